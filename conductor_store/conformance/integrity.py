"""Promises that only a deliberately broken backend shows are needed: all-or-nothing commits
whose later write fails, dense commit numbers, write order inside a commit, and a ``find`` /
``count`` push-down that agrees with the reference evaluator on every where clause."""

from __future__ import annotations

import pytest

from conductor_store import ConflictError, NotFoundError
from conductor_store.query import compile_query

#: records with every kind of value a where clause meets, NULLs and missing fields included
ROWS = [
    {"id": "a", "s": "x", "n": 1, "b": True, "o": {"k": "v"}},
    {"id": "b", "s": "y", "n": 2.5, "b": False, "o": {"k": None}},
    {"id": "c", "s": None, "n": None, "b": None},
    {"id": "d"},
    {"id": "e", "s": "", "n": 0, "b": False, "o": {}},
    {"id": "f", "s": "x%", "n": -3, "o": {"k": "w"}},
]

WHERES = [
    "s = 'x'",
    "s != 'x'",
    "s IS NULL",
    "s IS NOT NULL",
    "NOT (s = 'x')",
    "n > 0",
    "n <= 0",
    "NOT (n > 0)",
    "n IN (1, 2.5)",
    "n NOT IN (1, 2.5)",
    "b = true",
    "b != true",
    "NOT b = false",
    "s LIKE 'x%'",
    "s NOT LIKE 'x%'",
    "o.k = 'v'",
    "o.k IS NULL",
    "o.k != 'v'",
    "s = 'x' OR n > 1",
    "NOT (s = 'x' OR n > 1)",
    "s IS NULL AND n IS NULL",
    "(s = 'x' AND n = 1) OR b = false",
]


class IntegrityTests:
    def test_a_commit_whose_later_insert_conflicts_writes_nothing(self, store):
        """A transaction inserting A and then B, where B exists, raises ConflictError and leaves
        A unwritten: a commit is all or nothing."""
        store.insert("tasks", {"v": 0}, id="b")
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                tx.insert("tasks", {"v": 1}, id="a")
                tx.insert("tasks", {"v": 1}, id="b")
        assert store.get("tasks", "a") is None
        assert [c.id for c in store.changes()] == ["b"]

    def test_a_commit_whose_later_update_misses_writes_nothing(self, store):
        """put A then update a missing B in one transaction: NotFoundError, and A unwritten."""
        with pytest.raises(NotFoundError):
            with store.transaction() as tx:
                tx.put("tasks", "a", {"v": 1})
                tx.update("tasks", "missing", {"v": 1})
        assert store.get("tasks", "a") is None and store.changes() == []

    def test_commit_numbers_have_no_gaps(self, store):
        """Each commit that changes something takes the next number: refused commits and
        commits that change nothing take none."""
        store.insert("tasks", {"v": 0}, id="x")
        store.delete("tasks", "nothing-here")  # changes nothing
        with pytest.raises(ConflictError):
            store.insert("tasks", {"v": 0}, id="x")
        store.update("tasks", "x", {"v": 1})
        store.put("tasks", "y", {"v": 1})
        seqs = [c.seq for c in store.changes()]
        assert seqs == list(range(seqs[0], seqs[0] + 3)), seqs

    def test_changes_of_one_commit_come_in_write_order(self, store):
        """The changes of one commit are listed in the order the transaction wrote them."""
        with store.transaction() as tx:
            for id in ("m", "c", "x", "a"):
                tx.insert("tasks", {"v": id}, id=id)
        assert [c.id for c in store.changes()] == ["m", "c", "x", "a"]

    @pytest.mark.parametrize("where", WHERES)
    def test_find_and_count_agree_with_the_reference_evaluator(self, store, where):
        """find/count with a where clause return what the library's Python evaluator (the
        reference semantics: SQL three-valued logic) selects from all records, on NULLs and
        missing fields too: a backend's push-down must not change answers."""
        with store.transaction() as tx:
            for row in ROWS:
                tx.insert("rows", {k: v for k, v in row.items() if k != "id"}, id=row["id"])
        everything = store.find("rows")
        expected = [d["id"] for d in compile_query(where).apply(everything)]
        assert [d["id"] for d in store.find("rows", where)] == expected, where
        assert store.count("rows", where) == len(expected), where
