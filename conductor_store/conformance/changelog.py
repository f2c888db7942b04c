"""The change log: one entry per changed record per commit, numbered by a per-project sequence
that only grows (not necessarily by one), read back in commit order with filters."""

from __future__ import annotations

import pytest

from conductor_store import Change, ChangesPrunedError, ConflictError

from ._support import last_seq


class ChangeLogTests:
    def test_fresh_store_has_no_changes(self, store):
        """A new, empty location has an empty change log."""
        assert store.changes() == []

    def test_insert_is_logged_with_doc_after(self, store):
        """insert logs op "insert" with the table, id and the document as stored."""
        doc = store.insert("tasks", {"v": 1}, id="a")
        (change,) = store.changes()
        assert isinstance(change, Change)
        assert (change.table, change.id, change.op, change.doc) == ("tasks", "a", "insert", doc)
        assert isinstance(change.seq, int) and not isinstance(change.seq, bool) and change.seq > 0

    def test_update_is_logged_with_doc_after(self, store):
        """update logs op "update" with the whole merged document after the change."""
        store.insert("tasks", {"a": 1, "b": 1}, id="x")
        since = last_seq(store)
        after = store.update("tasks", "x", {"b": 2})
        (change,) = store.changes(since)
        assert (change.op, change.doc) == ("update", after)
        assert change.doc == {"a": 1, "b": 2, "id": "x", "_version": change.seq}

    def test_put_is_logged_as_insert_or_update(self, store):
        """put logs "insert" when it creates the record and "update" when it replaces it."""
        store.put("tasks", "x", {"v": 1})
        store.put("tasks", "x", {"w": 2})
        first, second = store.changes()
        assert [(c.op, c.doc) for c in (first, second)] == [
            ("insert", {"v": 1, "id": "x", "_version": first.seq}),
            ("update", {"w": 2, "id": "x", "_version": second.seq}),
        ]

    def test_delete_is_logged_with_no_doc(self, store):
        """delete logs op "delete" with doc None."""
        store.insert("tasks", {"v": 1}, id="x")
        since = last_seq(store)
        store.delete("tasks", "x")
        (change,) = store.changes(since)
        assert (change.table, change.id, change.op, change.doc) == ("tasks", "x", "delete", None)

    def test_delete_of_missing_record_logs_nothing(self, store):
        """Deleting a record that does not exist records no change."""
        store.insert("tasks", {"v": 1}, id="x")
        before = store.changes()
        store.delete("tasks", "nope")
        store.delete("never_table", "nope")
        assert store.changes() == before

    def test_seqs_strictly_increase_across_commits(self, store):
        """Each commit's number is greater than every earlier commit's."""
        store.insert("tasks", {"v": 0}, id="x")
        for i in range(1, 6):
            store.update("tasks", "x", {"v": i})
        store.delete("tasks", "x")
        seqs = [c.seq for c in store.changes()]
        assert len(seqs) == 7
        assert all(a < b for a, b in zip(seqs, seqs[1:])), seqs

    def test_changes_come_in_commit_order(self, store):
        """changes() lists entries in the order their commits happened, across tables."""
        store.insert("b_table", {"v": 1}, id="z")
        store.insert("a_table", {"v": 1}, id="a")
        store.insert("b_table", {"v": 2}, id="y")
        assert [(c.table, c.id) for c in store.changes()] == [
            ("b_table", "z"),
            ("a_table", "a"),
            ("b_table", "y"),
        ]

    def test_one_transaction_shares_one_seq(self, store):
        """All changes of one transaction carry the same number, above earlier commits' and
        below later ones'."""
        store.insert("tasks", {"v": 0}, id="old")
        store.insert("tasks", {"v": 0}, id="gone")
        first = last_seq(store)
        with store.transaction() as tx:
            tx.insert("tasks", {"v": 1}, id="new")
            tx.update("tasks", "old", {"v": 1})
            tx.delete("tasks", "gone")
            tx.put("runs", "r", {"v": 1})
        store.insert("tasks", {"v": 2}, id="later")
        log = store.changes(first)
        tx_changes = log[:-1]
        assert sorted((c.table, c.id, c.op) for c in tx_changes) == [
            ("runs", "r", "insert"),
            ("tasks", "gone", "delete"),
            ("tasks", "new", "insert"),
            ("tasks", "old", "update"),
        ]
        assert len({c.seq for c in tx_changes}) == 1
        assert first < tx_changes[0].seq < log[-1].seq
        # every record the transaction wrote carries its commit's seq as its version
        assert all(c.doc["_version"] == c.seq for c in tx_changes if c.doc is not None)
        assert store.get("tasks", "new")["_version"] == tx_changes[0].seq
        assert store.get("runs", "r")["_version"] == tx_changes[0].seq

    def test_since_returns_only_later_commits(self, store):
        """changes(since=s) returns exactly the entries numbered above s."""
        for i in range(4):
            store.insert("tasks", {"v": i}, id=f"t{i}")
        log = store.changes()
        for k, change in enumerate(log):
            assert store.changes(since=change.seq) == log[k + 1 :]
        assert store.changes(since=log[-1].seq) == []

    def test_tables_filter(self, store):
        """changes(tables=[...]) returns only entries of those tables, in commit order."""
        store.insert("a", {"v": 1}, id="1")
        store.insert("b", {"v": 1}, id="2")
        store.insert("c", {"v": 1}, id="3")
        store.insert("a", {"v": 1}, id="4")
        assert [c.id for c in store.changes(tables=["a"])] == ["1", "4"]
        assert [c.id for c in store.changes(tables=["c", "a"])] == ["1", "3", "4"]
        assert store.changes(tables=["never"]) == []
        assert store.changes(tables=[]) == []

    def test_limit_caps_the_oldest_first(self, store):
        """changes(limit=n) returns the first n entries after ``since``."""
        for i in range(5):
            store.insert("tasks", {"v": i}, id=f"t{i}")
        log = store.changes()
        assert store.changes(limit=2) == log[:2]
        assert store.changes(since=log[1].seq, limit=2) == log[2:4]
        assert store.changes(limit=0) == []
        assert store.changes(limit=100) == log

    def test_paging_with_since_and_limit_sees_everything(self, store):
        """Reading pages (since = last seen seq, small limit) visits every change once."""
        for i in range(7):
            store.insert("tasks", {"v": i}, id=f"t{i}")
        seen, since = [], 0
        for _ in range(10):  # bounded: a backend ignoring ``since`` must not loop forever
            page = store.changes(since, limit=3)
            if not page:
                break
            assert len(page) <= 3
            seen += page
            since = page[-1].seq
        assert seen == store.changes()

    def test_rolled_back_transaction_logs_nothing(self, store):
        """A transaction ended by an exception records no change."""
        store.insert("tasks", {"v": 0}, id="x")
        before = store.changes()
        with pytest.raises(RuntimeError):
            with store.transaction() as tx:
                tx.update("tasks", "x", {"v": 1})
                tx.insert("tasks", {"v": 1}, id="y")
                raise RuntimeError("abort")
        assert store.changes() == before

    def test_failed_commit_logs_nothing(self, store):
        """A commit refused with ConflictError (or a conflicting single write) records no change."""
        store.insert("tasks", {"v": 0}, id="x")
        tx = store.transaction()
        tx.get("tasks", "x")
        tx.insert("tasks", {"v": 1}, id="y")
        store.update("tasks", "x", {"v": 1})
        before = store.changes()
        with pytest.raises(ConflictError):
            tx.commit()
        with pytest.raises(ConflictError):
            store.insert("tasks", {"v": 2}, id="x")
        assert store.changes() == before

    def test_change_docs_are_the_callers(self, store):
        """Mutating a Change's doc does not alter the log."""
        store.insert("tasks", {"l": [1]}, id="x")
        first = store.changes()
        first[0].doc["l"].append(2)
        first[0].doc["v"] = 1
        assert store.changes()[0].doc == {"l": [1], "id": "x", "_version": first[0].seq}

    def test_seq_continues_after_failed_commits(self, store):
        """Commits after refused ones still get numbers above every earlier commit's."""
        store.insert("tasks", {"v": 0}, id="x")
        s1 = last_seq(store)
        with pytest.raises(ConflictError):
            store.insert("tasks", {"v": 0}, id="x")
        store.update("tasks", "x", {"v": 1})
        assert last_seq(store) > s1

    # -- pruning -------------------------------------------------------------------------
    def test_pruned_change_log_says_where_to_continue(self, store):
        """After ``prune_changes(k)`` the backend may forget entries up to ``k`` (or keep them:
        ``pruned_through()`` says). ``changes(since)`` below that point raises
        ChangesPrunedError whose ``oldest`` is where to continue; from there on the log is
        unchanged, and every record is kept."""
        for i in range(6):
            store.put("tasks", f"t{i}", {"v": i})
        log = store.changes()
        through = log[2].seq
        store.backend.prune_changes(through)
        pruned = store.backend.pruned_through()
        assert 0 <= pruned <= through
        assert store.changes(pruned) == [c for c in log if c.seq > pruned]
        if pruned:
            for since in (0, pruned - 1):
                with pytest.raises(ChangesPrunedError) as info:
                    store.changes(since)
                assert info.value.oldest == pruned
                assert str(pruned) in str(info.value)
        assert [d["v"] for d in store.get_many("tasks", [f"t{i}" for i in range(6)])] == list(
            range(6)
        )
        store.put("tasks", "after", {"v": 6})
        assert store.changes(pruned)[-1].id == "after"

    def test_nothing_pruned_by_default(self, store):
        """Until something is pruned, ``pruned_through()`` is 0 and ``changes(0)`` is the whole
        log."""
        store.put("tasks", "a", {"v": 1})
        assert store.backend.pruned_through() == 0
        assert [c.id for c in store.changes(0)] == ["a"]
