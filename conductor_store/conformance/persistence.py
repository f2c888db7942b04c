"""Locations: data, versions and the change log survive reopening; two stores on one location
share commits and conflict correctly; other processes see and race our commits; projects on
one location never see each other."""

from __future__ import annotations

import pytest

from conductor_store import ConflictError

from ._support import finish_child, last_seq, run_child, start_child, strip


class PersistenceTests:
    # -- reopen (persistent) -----------------------------------------------------------------
    def test_data_survives_reopen(self, opener):
        """Records, with their versions, read back after close() and a new open()."""
        self.require("persistent")
        with opener() as first:
            first.insert("tasks", {"v": 1, "nested": {"l": [1.0, 2]}}, id="a")
            first.update("tasks", "a", {"w": True})
            first.insert("runs", {"v": 2}, id="b")
            saved = first.get_many("tasks", ["a"]) + first.get_many("runs", ["b"])
        again = opener()
        assert [again.get("tasks", "a"), again.get("runs", "b")] == saved
        assert again.tables() == ["runs", "tasks"]

    def test_deletes_survive_reopen(self, opener):
        """A deleted record stays deleted after reopening (and its empty table is not listed)."""
        self.require("persistent")
        with opener() as first:
            first.insert("tasks", {"v": 1}, id="a")
            first.insert("gone", {"v": 1}, id="g")
            first.delete("tasks", "a")
            first.delete("gone", "g")
            first.insert("tasks", {"v": 1}, id="b")
        again = opener()
        assert again.get("tasks", "a") is None
        assert again.get("gone", "g") is None
        assert again.tables() == ["tasks"]

    def test_versions_keep_growing_after_reopen(self, opener):
        """After reopening, the next write of a record takes a version above every earlier one
        (the seq of its commit); a version from before is stale."""
        self.require("persistent")
        with opener() as first:
            first.insert("tasks", {"v": 1}, id="a")
            old = first.update("tasks", "a", {"v": 2})["_version"]
        again = opener()
        new = again.update("tasks", "a", {"v": 3})["_version"]
        assert new == last_seq(again) > old
        with pytest.raises(ConflictError):
            again.put("tasks", "a", {"v": 4, "_version": old})

    def test_change_log_survives_reopen(self, opener):
        """The change log reads back identically after reopening."""
        self.require("persistent")
        with opener() as first:
            first.insert("tasks", {"v": 1}, id="a")
            first.update("tasks", "a", {"v": 2})
            first.delete("tasks", "a")
            log = first.changes()
        assert opener().changes() == log

    def test_seq_keeps_growing_after_reopen(self, opener):
        """Commits after reopening are numbered above every commit before it."""
        self.require("persistent")
        with opener() as first:
            for i in range(3):
                first.insert("tasks", {"v": i})
            before = last_seq(first)
        again = opener()
        again.insert("tasks", {"v": 9})
        with again.transaction() as tx:
            tx.insert("tasks", {"v": 10})
        new = again.changes(before)
        assert len(new) == 2 and before < new[0].seq < new[1].seq

    def test_rolled_back_and_failed_writes_are_not_persisted(self, opener):
        """Neither a rolled-back transaction nor a refused write reaches storage."""
        self.require("persistent")
        with opener() as first:
            first.insert("tasks", {"v": 1}, id="a")
            with pytest.raises(RuntimeError):
                with first.transaction() as tx:
                    tx.insert("tasks", {"v": 1}, id="rolled")
                    raise RuntimeError
            with pytest.raises(ConflictError):
                first.put("tasks", "a", {"v": 2, "_version": 5})
            log = first.changes()
        again = opener()
        assert again.get("tasks", "rolled") is None
        assert strip(again.get("tasks", "a")) == {"v": 1}
        assert again.changes() == log

    def test_generated_ids_keep_sorting_after_reopen(self, opener):
        """Ids generated after reopening sort after those generated before."""
        self.require("persistent")
        with opener() as first:
            old = [first.insert("tasks", {"v": i})["id"] for i in range(3)]
        again = opener()
        new = [again.insert("tasks", {"v": i})["id"] for i in range(3)]
        assert sorted(old + new) == old + new

    def test_projects_stay_apart_across_reopen(self, opener):
        """One project's data is not visible to another project opened on the location later."""
        self.require("persistent")
        with opener("alpha") as alpha:
            alpha.insert("tasks", {"v": "alpha"}, id="a")
        with opener("beta") as beta:
            assert beta.get("tasks", "a") is None
            assert beta.tables() == [] and beta.changes() == []
        assert opener("alpha").get("tasks", "a")["v"] == "alpha"

    # -- two stores on one location (shared_location) ----------------------------------------
    def test_second_store_sees_commits(self, opener):
        """A commit by one store is visible to another store open on the same location."""
        self.require("shared_location")
        s1, s2 = opener(), opener()
        s1.insert("tasks", {"v": 1}, id="a")
        assert s2.get("tasks", "a") == s1.get("tasks", "a")
        s2.update("tasks", "a", {"v": 2})
        assert s1.get("tasks", "a")["v"] == 2
        s1.delete("tasks", "a")
        assert s2.get("tasks", "a") is None
        assert s2.tables() == []

    def test_second_store_sees_changes(self, opener):
        """Both stores on a location read the same change log, including each other's
        commits, numbered in one increasing sequence."""
        self.require("shared_location")
        s1, s2 = opener(), opener()
        s1.insert("tasks", {"v": 1}, id="a")
        s2.insert("tasks", {"v": 2}, id="b")
        s1.update("tasks", "b", {"v": 3})
        log = s2.changes()
        assert [(c.id, c.op) for c in log] == [("a", "insert"), ("b", "insert"), ("b", "update")]
        assert s1.changes() == log
        assert log[0].seq < log[1].seq < log[2].seq

    def test_conflict_between_two_stores(self, opener):
        """A transaction on one store conflicts with a commit made through another store on
        the same location; the other store's value is kept."""
        self.require("shared_location")
        s1, s2 = opener(), opener()
        s1.insert("acct", {"n": 0}, id="x")
        with pytest.raises(ConflictError):
            with s1.transaction() as tx:
                n = tx.get("acct", "x")["n"]
                s2.update("acct", "x", {"n": 10})
                tx.update("acct", "x", {"n": n + 1})
        assert s1.get("acct", "x")["n"] == 10

    def test_insert_race_between_two_stores(self, opener):
        """Two stores inserting one id: the second insert raises ConflictError."""
        self.require("shared_location")
        s1, s2 = opener(), opener()
        s1.insert("tasks", {"by": "s1"}, id="x")
        with pytest.raises(ConflictError):
            s2.insert("tasks", {"by": "s2"}, id="x")
        assert s2.get("tasks", "x")["by"] == "s1"

    def test_other_store_sees_transaction_all_or_nothing(self, opener):
        """Another store sees none of a transaction's writes before commit and all after."""
        self.require("shared_location")
        s1, s2 = opener(), opener()
        s1.insert("tasks", {"v": 0}, id="old")
        tx = s1.transaction()
        tx.insert("tasks", {"v": 1}, id="new")
        tx.update("tasks", "old", {"v": 1})
        tx.put("runs", "r", {"v": 1})
        assert s2.get_many("tasks", ["new"]) == [] and s2.get("tasks", "old")["v"] == 0
        assert s2.tables() == ["tasks"]
        tx.commit()
        assert s2.get("tasks", "new")["v"] == 1 and s2.get("tasks", "old")["v"] == 1
        assert s2.get("runs", "r")["v"] == 1

    def test_atomic_across_two_stores(self, opener):
        """atomic() on one store retries when another store on the location raced it."""
        self.require("shared_location")
        s1, s2 = opener(), opener()
        s1.insert("acct", {"n": 0}, id="x")
        calls = []

        def fn(tx):
            n = tx.get("acct", "x")["n"]
            if not calls:
                s2.update("acct", "x", {"n": n + 100})
            calls.append(n)
            tx.update("acct", "x", {"n": n + 1})

        s1.atomic(fn)
        assert calls == [0, 100] and s2.get("acct", "x")["n"] == 101

    # -- projects ------------------------------------------------------------------------
    def test_projects_do_not_share_records(self, opener):
        """Stores of two projects on one location never see each other's records; one id may
        exist in both, independently."""
        self.require("shared_location")
        alpha, beta = opener("alpha"), opener("beta")
        made = alpha.insert("tasks", {"v": "alpha"}, id="x")
        assert beta.get("tasks", "x") is None
        beta.insert("tasks", {"v": "beta"}, id="x")  # no conflict across projects
        beta.update("tasks", "x", {"w": 1})
        assert alpha.get("tasks", "x") == made
        assert beta.get("tasks", "x")["_version"] == last_seq(beta)
        alpha.delete("tasks", "x")
        assert beta.get("tasks", "x") is not None

    def test_projects_do_not_share_tables(self, opener):
        """tables() lists only the project's own tables."""
        self.require("shared_location")
        alpha, beta = opener("alpha"), opener("beta")
        alpha.insert("only_alpha", {"v": 1})
        beta.insert("only_beta", {"v": 1})
        assert alpha.tables() == ["only_alpha"]
        assert beta.tables() == ["only_beta"]

    def test_projects_do_not_share_changes(self, opener):
        """changes() of a project lists only that project's commits."""
        self.require("shared_location")
        alpha, beta = opener("alpha"), opener("beta")
        alpha.insert("tasks", {"v": 1}, id="a")
        beta.insert("tasks", {"v": 1}, id="b")
        alpha.update("tasks", "a", {"v": 2})
        assert [(c.id, c.op) for c in alpha.changes()] == [("a", "insert"), ("a", "update")]
        assert [(c.id, c.op) for c in beta.changes()] == [("b", "insert")]

    def test_projects_do_not_share_queries(self, opener):
        """find and count of a project see only that project's records."""
        self.require("shared_location")
        alpha, beta = opener("alpha"), opener("beta")
        alpha.insert("tasks", {"v": 1}, id="a")
        beta.insert("tasks", {"v": 1}, id="b")
        assert [d["id"] for d in alpha.find("tasks", {"v": 1})] == ["a"]
        assert beta.count("tasks") == 1

    # -- other processes (multiprocess) ------------------------------------------------------
    def test_other_process_commits_are_visible(self, url, store):
        """A record committed by another process (while this store is open) is visible here,
        in get and in changes(), numbered after our earlier commits."""
        self.require("multiprocess")
        store.insert("tasks", {"v": 0}, id="shared")
        before = last_seq(store)
        run_child(
            self,
            url,
            """
            store.insert("tasks", {"by": "child"}, id="from_child")
            store.update("tasks", "shared", {"v": 1})
        """,
        )
        assert strip(store.get("tasks", "from_child")) == {"by": "child"}
        new = store.changes(before)
        assert store.get("tasks", "shared") == {"v": 1, "id": "shared", "_version": new[-1].seq}
        assert [(c.id, c.op) for c in new] == [("from_child", "insert"), ("shared", "update")]
        assert all(c.seq > before for c in new)

    def test_our_commits_are_visible_to_other_process(self, url, store):
        """Another process opening the location reads our committed records and change log."""
        self.require("multiprocess")
        store.insert("tasks", {"v": "parent"}, id="p")
        result = run_child(
            self,
            url,
            """
            result = [store.get("tasks", "p"), [c.id for c in store.changes()]]
        """,
        )
        assert result == [store.get("tasks", "p"), ["p"]]

    def test_conflict_with_other_process(self, url, store):
        """A transaction here conflicts with a commit made by another process meanwhile."""
        self.require("multiprocess")
        store.insert("acct", {"n": 0}, id="x")
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                n = tx.get("acct", "x")["n"]
                run_child(self, url, 'store.update("acct", "x", {"n": 50})')
                tx.update("acct", "x", {"n": n + 1})
        assert store.get("acct", "x")["n"] == 50

    def test_no_lost_updates_across_processes(self, url, store):
        """Two processes incrementing one counter through atomic() at the same time lose no
        increment."""
        self.require("multiprocess")
        store.insert("acct", {"n": 0}, id="counter")
        body = """
            for _ in range(15):
                store.atomic(lambda tx: tx.update(
                    "acct", "counter", {"n": tx.get("acct", "counter")["n"] + 1}), retries=1000)
            result = "ok"
        """
        children = [start_child(self, url, body) for _ in range(2)]
        for _ in range(15):
            store.atomic(
                lambda tx: tx.update("acct", "counter", {"n": tx.get("acct", "counter")["n"] + 1}),
                retries=1000,
            )
        assert [finish_child(c) for c in children] == ["ok", "ok"]
        assert store.get("acct", "counter")["n"] == 45
        assert len(store.changes(tables=["acct"])) == 46

    def test_other_process_respects_projects(self, url, opener):
        """A commit by another process to one project is not visible in another project."""
        self.require("multiprocess")
        run_child(self, url, 'store.insert("tasks", {"v": 1}, id="x")', project="alpha")
        beta = opener("beta")
        assert beta.get("tasks", "x") is None and beta.changes() == []
        beta.close()
        assert opener("alpha").get("tasks", "x")["v"] == 1
