"""Values round-trip exactly: JSON scalars keep their type, unicode is kept code point for code
point, and big documents (long strings, many keys, deep nesting) survive."""

from __future__ import annotations

from ._support import last_seq, strip


def _exact(a, b) -> bool:
    """Equal *and* of the same JSON kind all the way down (so 1 != 1.0 != True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_exact(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_exact(x, y) for x, y in zip(a, b))
    return a == b


class ValueTests:
    def _roundtrip(self, store, doc: dict) -> dict | None:
        store.put("vals", "r", doc)
        return strip(store.get("vals", "r"))

    # -- numbers, booleans, null -------------------------------------------------------------
    def test_ints_stay_ints(self, store):
        """Integers read back as ``int`` with the same value, up to the 64-bit limits."""
        doc = {
            "zero": 0,
            "neg": -1,
            "big": 2**53 + 1,
            "max": 2**63 - 1,
            "min": -(2**63),
            "list": [1, 2, 3],
        }
        assert _exact(self._roundtrip(store, doc), doc)

    def test_floats_stay_floats(self, store):
        """Floats read back as ``float`` with the same value; 2.0 stays the float 2.0."""
        doc = {
            "two": 2.0,
            "half": 1.5,
            "tenth": 0.1,
            "neg": -2.5,
            "huge": 1e300,
            "tiny": 5e-324,
            "small": 1e-7,
            "third": 1 / 3,
            "list": [1.0, 0.5],
        }
        assert _exact(self._roundtrip(store, doc), doc)

    def test_negative_zero_reads_back_as_a_float_zero(self, store):
        """-0.0 reads back as a float equal to zero (its sign may be lost)."""
        got = self._roundtrip(store, {"z": -0.0})["z"]
        assert type(got) is float and got == 0.0

    def test_bools_stay_bools(self, store):
        """True/False read back as ``bool`` (never as 1/0)."""
        doc = {"t": True, "f": False, "list": [True, False, 1, 0]}
        assert _exact(self._roundtrip(store, doc), doc)

    def test_null_fields_are_kept(self, store):
        """A field holding None is stored as null: present on read, not dropped."""
        doc = {"n": None, "list": [None, 1], "obj": {"inner": None}}
        assert _exact(self._roundtrip(store, doc), doc)

    def test_empty_values_round_trip(self, store):
        """Empty strings, lists and objects read back as themselves (not null or missing)."""
        doc = {"s": "", "l": [], "o": {}, "nested": {"l": [[], {}], "o": {"e": {}}}}
        assert _exact(self._roundtrip(store, doc), doc)

    def test_mixed_lists_keep_order_and_kinds(self, store):
        """Lists keep their order, duplicates and heterogeneous items."""
        doc = {"l": [3, "a", 3, None, 1.5, True, {"k": [1]}, [2, [3]], "a"]}
        assert _exact(self._roundtrip(store, doc), doc)

    def test_unusual_keys_round_trip(self, store):
        """Any string key is kept: dots, spaces, ``$``, quotes, an empty key, digits-only."""
        doc = {
            "a.b": 1,
            "with space": 2,
            "$dollar": 3,
            "quo'te\"": 4,
            "": 5,
            "123": 6,
            "nested": {"x.y": {"": "deep"}},
            "ID": "not the id",
            "Version": 1,
        }
        assert _exact(self._roundtrip(store, doc), doc)

    def test_find_returns_the_same_values_as_get(self, store):
        """find returns the very values get does (types included), not re-encoded ones."""
        doc = {"i": 7, "f": 2.0, "b": True, "n": None, "s": "", "l": [1.0, 1], "o": {}}
        store.put("vals", "r", doc)
        found = store.find("vals")
        assert len(found) == 1 and _exact(found[0], store.get("vals", "r"))

    # -- unicode ---------------------------------------------------------------------------
    UNICODE = {
        "emoji": "🎉🚀 done ✅",
        "family": "👨\u200d👩\u200d👧",
        "cjk": "漢字かな한글",
        "combining": "e\u0301",  # decomposed: must NOT become the precomposed é
        "precomposed": "\u00e9",
        "rtl": "שלום عليكم",
        "astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "escapes": 'tab\tnew\nline "quoted" back\\slash \x01',
    }

    def test_unicode_values_round_trip_exactly(self, store):
        """Strings with emoji, CJK, RTL, astral and control characters are kept exactly, with
        no unicode normalisation (``e`` + combining acute stays two code points)."""
        got = self._roundtrip(store, dict(self.UNICODE))
        assert got == self.UNICODE
        assert len(got["combining"]) == 2 and got["combining"] != got["precomposed"]

    def test_unicode_keys_round_trip(self, store):
        """Field names may be any unicode string and are kept exactly."""
        doc = {
            "名前": "値",
            "😀": 1,
            "e\u0301": "decomposed",
            "\u00e9": "precomposed",
            "nested": {"ключ": {"键": [1]}},
        }
        assert self._roundtrip(store, doc) == doc

    # -- size ------------------------------------------------------------------------------
    def test_megabyte_string(self, store):
        """A document holding a string over 1 MB (mixed ASCII and multi-byte) round-trips."""
        big = ("abcdefgh" * 64 + "é漢😀") * 2000
        assert len(big) > 1_000_000
        assert self._roundtrip(store, {"blob": big})["blob"] == big

    def test_document_with_many_keys(self, store):
        """A document with 5,000 fields round-trips with every field."""
        doc = {f"k{i:05d}": i for i in range(5000)}
        got = self._roundtrip(store, doc)
        assert got == doc

    def test_deeply_nested_document(self, store):
        """Objects nested 50 levels deep (and lists inside them) round-trip."""
        doc: dict = {"leaf": [1, [2, [3]]]}
        for i in range(50):
            doc = {f"level{i}": doc}
        assert self._roundtrip(store, doc) == doc

    def test_many_records_in_one_table(self, store):
        """A table of a thousand records (written in one transaction) reads back whole."""
        n = 1000
        with store.transaction() as tx:
            for i in range(n):
                tx.insert("many", {"i": i}, id=f"r{i:04d}")
        assert store.get("many", "r0999") == {"i": 999, "id": "r0999", "_version": last_seq(store)}
        assert [
            d["i"] for d in store.get_many("many", [f"r{i:04d}" for i in range(0, n, 7)])
        ] == list(range(0, n, 7))
