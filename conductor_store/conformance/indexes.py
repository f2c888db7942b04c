"""Indexes: ``store.ensure_index`` / ``store.indexes``. Answers never depend on indexes; a
unique index refuses duplicates. Backends without unique indexes say so (``indexes = False``
skips the tests that need them) and still accept every non-unique index."""

from __future__ import annotations

import pytest

from conductor_store import ConflictError, IndexSpec, StoreError, ValidationError

from ._support import ids, snapshot


class IndexTests:
    # -- every backend ---------------------------------------------------------------------
    def test_non_unique_index_is_accepted_and_idempotent(self, store):
        """A non-unique index is accepted (again and again: idempotent), returned as an
        IndexSpec, listed at most once by indexes(), and changes no answer."""
        for i, status in enumerate(["open", "done", "open"]):
            store.insert("tasks", {"status": status, "meta": {"p": i}}, id=f"t{i}")
        before = ids(store.find("tasks", {"status": "open"}, order_by="-meta.p"))
        spec = store.ensure_index("tasks", ["status", "meta.p"])
        assert spec == IndexSpec("tasks", ("status", "meta.p"), False)
        assert store.ensure_index("tasks", ["status", "meta.p"]) == spec
        assert store.ensure_index("tasks", "status") == IndexSpec("tasks", ("status",), False)
        listed = store.indexes()
        assert all(isinstance(s, IndexSpec) for s in listed)
        assert listed.count(spec) <= 1
        assert store.indexes("tasks") == [s for s in listed if s.table == "tasks"]
        assert store.indexes("other") == []
        assert ids(store.find("tasks", {"status": "open"}, order_by="-meta.p")) == before
        store.insert("tasks", {"status": "open", "meta": {"p": 9}}, id="t9")
        assert ids(store.find("tasks", {"status": "open"}, order_by="-meta.p"))[0] == "t9"

    def test_unique_index_works_or_is_refused_clearly(self, store):
        """``unique=True`` either works or raises StoreError naming the limitation; either
        way no record is written or lost."""
        store.insert("users", {"email": "a@x"}, id="a")
        before = snapshot(store)
        try:
            store.ensure_index("users", "email", unique=True)
        except StoreError as error:
            assert str(error)
        assert snapshot(store) == before
        assert store.get("users", "a")["email"] == "a@x"

    @pytest.mark.parametrize(
        "table,fields,unique",
        [
            ("Bad-Table", ["a"], False),
            ("tasks", [], False),
            ("tasks", "", False),
            ("tasks", "a b", False),
            ("tasks", ["a", 5], False),
            ("tasks", ["a", "a"], False),
            ("tasks", "a..b", False),
            ("tasks", "$a", False),
            ("tasks", 5, False),
            ("tasks", ["a"], "yes"),
        ],
        ids=repr,
    )
    def test_bad_index_arguments_refused(self, store, table, fields, unique):
        """ensure_index refuses a bad table, an empty, malformed or repeated field list or a
        non-bool ``unique`` with ValidationError, declaring nothing."""
        before = store.indexes()
        with pytest.raises(ValidationError):
            store.ensure_index(table, fields, unique=unique)
        assert store.indexes() == before

    # -- backends with unique indexes (``indexes = True``) ----------------------------------
    def test_unique_index_refuses_duplicates(self, store):
        """With a unique index, a commit giving two records the same value raises
        ConflictError and writes nothing; records without the field are not constrained; a
        value freed by delete or update can be taken again."""
        self.require("indexes")
        store.ensure_index("users", "email", unique=True)
        store.insert("users", {"email": "a@x"}, id="a")
        store.insert("users", {"name": "no email"}, id="n1")
        store.insert("users", {"name": "no email either"}, id="n2")
        before = snapshot(store)
        with pytest.raises(ConflictError):
            store.insert("users", {"email": "a@x"}, id="b")
        with pytest.raises(ConflictError):
            store.update("users", "n1", {"email": "a@x"})
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                tx.put("users", "c", {"email": "c@x"})
                tx.put("users", "d", {"email": "c@x"})
        assert snapshot(store) == before
        store.update("users", "a", {"email": "a2@x"})
        store.insert("users", {"email": "a@x"}, id="b")
        store.delete("users", "b")
        store.insert("users", {"email": "a@x"}, id="e")
        assert ids(store.find("users", {"email": "a@x"})) == ["e"]

    def test_unique_index_is_listed_and_kept(self, opener):
        """A unique index is listed by indexes() once, however often it is declared, and
        (on persistent backends) after reopening."""
        self.require("indexes")
        store = opener()
        spec = store.ensure_index("users", ["email"], unique=True)
        store.ensure_index("users", ["email"], unique=True)
        assert store.indexes().count(spec) == 1
        if self.persistent:
            store.close()
            assert opener().indexes().count(spec) == 1
