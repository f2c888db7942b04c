"""The CBOR codec (surreal/codec.py): its inline fast paths decode what the general path does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import conductor_store as cs
from conductor_store.backends.surreal.codec import Rid, decode, encode

#: sizes on both sides of each CBOR head boundary (inline < 24, then 1, 2, 4, 8 bytes)
EDGES = [0, 1, 23, 24, 25, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1]

#: what the Store lets through to a backend: no NUL, no lone surrogates (not UTF-8)
TEXT = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.sampled_from(EDGES + [-n - 1 for n in EDGES])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=TEXT, max_size=40),
    lambda inner: (
        st.lists(inner, max_size=30)
        | st.dictionaries(st.text(alphabet=TEXT, max_size=30), inner, max_size=30)
    ),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_values_round_trip(value):
    assert decode(encode(value)) == value


def test_record_ids_and_text_around_head_sizes_round_trip():
    values = [Rid("t", "x" * n) for n in (0, 23, 24, 300)] + [Rid("_CS_log", n) for n in EDGES]
    values += ["é" * n for n in (11, 12, 13, 200)]  # 2-byte characters across the 24-byte edge
    values += [{f"k{i}": i for i in range(n)} for n in (23, 24, 300)]
    values += [list(range(n)) for n in (23, 24, 300)]
    assert decode(encode(values)) == values


def test_values_the_engine_encodes_come_back_unchanged(tmp_path):
    """The engine chooses its own head sizes: every boundary read back through a store."""
    doc = {
        "ints": EDGES + [-n - 1 for n in EDGES],
        "floats": [0.5, -1.25, 1e300, 2.0],
        "texts": ["a" * n for n in (0, 23, 24, 255, 256, 70000)],
        "map": {f"k{'x' * i}": i for i in range(30)},
        "deep": [[{"a": [None, True, False]}]],
    }
    with cs.open("mem://", project="codec") as store:
        store.insert("t", doc, id="x" * 30)
        got = store.get("t", "x" * 30)
    assert got == {**doc, "id": "x" * 30, "_version": 1}
