"""Transactions: all-or-nothing commits, rollback, read-your-writes, optimistic conflicts,
isolation from other readers, and ``atomic()`` with its retries."""

from __future__ import annotations

import threading

import pytest

from conductor_store import ConflictError, NotFoundError, StoreError, ValidationError

from ._support import finish_child, ids, last_seq, raises_naming, snapshot, start_child, strip


class Boom(Exception):
    """An application error raised inside a transaction."""


class TransactionTests:
    # -- commit and rollback -------------------------------------------------------------
    def test_commit_applies_every_write(self, store):
        """Leaving the ``with`` block normally commits all of the transaction's writes."""
        store.insert("tasks", {"v": 0}, id="upd")
        store.insert("tasks", {"v": 0}, id="del")
        with store.transaction() as tx:
            tx.insert("tasks", {"v": 1}, id="ins")
            tx.put("runs", "r1", {"v": 2})
            tx.update("tasks", "upd", {"v": 3})
            tx.delete("tasks", "del")
        assert strip(store.get("tasks", "ins")) == {"v": 1}
        assert strip(store.get("runs", "r1")) == {"v": 2}
        assert store.get("tasks", "upd") == {"v": 3, "id": "upd", "_version": last_seq(store)}
        assert store.get("tasks", "del") is None

    def test_exception_rolls_back_and_is_reraised(self, store):
        """An exception inside the block re-raises that same exception and writes nothing."""
        kept = store.insert("tasks", {"v": 0}, id="upd")
        before = snapshot(store)
        error = Boom("stop")
        with pytest.raises(Boom) as info:
            with store.transaction() as tx:
                tx.insert("tasks", {"v": 1}, id="ins")
                tx.update("tasks", "upd", {"v": 1})
                tx.delete("tasks", "upd")
                tx.put("other", "o", {"v": 1})
                raise error
        assert info.value is error
        assert store.get("tasks", "ins") is None
        assert store.get("tasks", "upd") == kept
        assert snapshot(store) == before

    def test_explicit_rollback_discards_writes(self, store):
        """``rollback()`` discards the buffered writes; nothing reaches the store."""
        before = snapshot(store)
        tx = store.transaction()
        tx.insert("tasks", {"v": 1}, id="x")
        tx.rollback()
        assert store.get("tasks", "x") is None
        assert snapshot(store) == before

    def test_validation_error_in_transaction_writes_nothing(self, store):
        """A ValidationError inside a transaction rolls back its earlier, valid writes too."""
        before = snapshot(store)
        with pytest.raises(ValidationError):
            with store.transaction() as tx:
                tx.insert("tasks", {"v": 1}, id="good")
                tx.insert("tasks", {"v": {1, 2}}, id="bad")
        assert store.get("tasks", "good") is None
        assert snapshot(store) == before

    def test_empty_transaction_changes_nothing(self, store):
        """A transaction with no writes (reads only, unchanged data) commits cleanly, no change."""
        store.insert("tasks", {"v": 1}, id="a")
        before = snapshot(store)
        with store.transaction() as tx:
            assert tx.get("tasks", "a")["v"] == 1
        with store.transaction():
            pass
        assert snapshot(store) == before

    def test_finished_transaction_cannot_be_used(self, store):
        """After commit (or rollback) a transaction refuses further use with StoreError."""
        with store.transaction() as tx:
            tx.insert("tasks", {"v": 1}, id="a")
        with pytest.raises(StoreError):
            tx.insert("tasks", {"v": 2}, id="b")
        with pytest.raises(StoreError):
            tx.get("tasks", "a")
        rolled = store.transaction()
        rolled.rollback()
        with pytest.raises(StoreError):
            rolled.put("tasks", "c", {"v": 1})
        assert store.get("tasks", "b") is None and store.get("tasks", "c") is None

    # -- read your writes ----------------------------------------------------------------
    def test_transaction_reads_its_own_writes_with_get(self, store):
        """Inside a transaction, get/get_many see its own inserts, puts and updates."""
        store.insert("tasks", {"v": 0, "keep": 1}, id="old")
        with store.transaction() as tx:
            tx.insert("tasks", {"v": 1}, id="new")
            tx.update("tasks", "old", {"v": 2})
            assert strip(tx.get("tasks", "new")) == {"v": 1}
            assert strip(tx.get("tasks", "old")) == {"v": 2, "keep": 1}
            assert [d["v"] for d in tx.get_many("tasks", ["new", "missing", "old"])] == [1, 2]

    def test_transaction_find_and_count_see_its_own_writes(self, store):
        """Inside a transaction, find and count include its inserts and updates, drop its
        deletes, and apply where/order/limit to the combined view."""
        for i, v in enumerate([1, 5, 9]):
            store.insert("nums", {"v": v}, id=f"n{i}")
        with store.transaction() as tx:
            tx.insert("nums", {"v": 7}, id="n3")
            tx.update("nums", "n0", {"v": 8})
            tx.delete("nums", "n2")
            assert ids(tx.find("nums", "v > 4", order_by="-v")) == ["n0", "n3", "n1"]
            assert ids(tx.find("nums", order_by="v", limit=2, offset=1)) == ["n3", "n0"]
            assert tx.count("nums") == 3
            assert tx.count("nums", {"v": 9}) == 0
        assert ids(store.find("nums", order_by="v")) == ["n1", "n3", "n0"]

    def test_insert_then_update_in_one_transaction(self, store):
        """A record inserted and then updated in one transaction commits with the final fields."""
        with store.transaction() as tx:
            tx.insert("tasks", {"a": 1, "b": 1}, id="x")
            doc = tx.update("tasks", "x", {"b": 2})
            assert strip(doc) == {"a": 1, "b": 2}
        got = store.get("tasks", "x")
        assert strip(got) == {"a": 1, "b": 2}
        assert got["_version"] >= 1

    def test_delete_then_get_in_transaction_is_none(self, store):
        """A record deleted inside a transaction is gone for that transaction's reads."""
        store.insert("tasks", {"v": 1}, id="x")
        with store.transaction() as tx:
            assert tx.delete("tasks", "x") is True
            assert tx.get("tasks", "x") is None
            assert tx.get_many("tasks", ["x"]) == []
            assert tx.delete("tasks", "x") is False
        assert store.get("tasks", "x") is None

    def test_update_of_missing_record_in_transaction(self, store):
        """update inside a transaction raises NotFoundError for a record that does not exist."""
        with pytest.raises(NotFoundError):
            with store.transaction() as tx:
                tx.update("tasks", "ghost", {"v": 1})
        assert store.get("tasks", "ghost") is None

    def test_transaction_write_results_are_the_callers(self, store):
        """Mutating a dict a transaction returned does not change what it commits."""
        with store.transaction() as tx:
            doc = tx.insert("tasks", {"l": [1]}, id="x")
            doc["l"].append(2)
            got = tx.get("tasks", "x")
            got["l"].append(3)
        assert store.get("tasks", "x")["l"] == [1]

    # -- isolation -------------------------------------------------------------------------
    def test_writes_invisible_until_commit(self, store):
        """Until commit, the store (outside the transaction) sees none of its writes; after
        commit it sees all of them."""
        store.insert("tasks", {"v": 0}, id="old")
        before = snapshot(store)
        tx = store.transaction()
        tx.insert("tasks", {"v": 1}, id="new")
        tx.update("tasks", "old", {"v": 1})
        tx.put("other", "o", {"v": 1})
        assert store.get("tasks", "new") is None
        assert store.get("tasks", "old")["v"] == 0
        assert store.get("other", "o") is None
        assert snapshot(store) == before
        tx.commit()
        assert store.get("tasks", "new")["v"] == 1
        assert store.get("tasks", "old")["v"] == 1
        assert store.get("other", "o")["v"] == 1

    def test_commit_is_seen_all_at_once(self, store):
        """A reader running while a transaction commits sees either none or all of its writes
        (in count and in the change log), never part of them."""
        n = 25
        base = store.changes()
        since = base[-1].seq if base else 0
        done = threading.Event()
        counts: set[int] = set()
        logged: set[int] = set()
        errors: list[BaseException] = []

        def look():
            # two separate observations: each on its own must be all-or-nothing
            counts.add(store.count("bulk"))
            logged.add(len(store.changes(since, tables=["bulk"])))

        def reader():
            try:
                while not done.is_set():
                    look()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            with store.transaction() as tx:
                for i in range(n):
                    tx.insert("bulk", {"i": i}, id=f"b{i:02d}")
        finally:
            done.set()
            thread.join()
        look()
        assert not errors, errors
        assert counts <= {0, n}, f"partial commit seen by count: {sorted(counts)}"
        assert logged <= {0, n}, f"partial commit seen in changes(): {sorted(logged)}"
        assert n in counts and n in logged

    # -- conflicts -------------------------------------------------------------------------
    def test_concurrent_read_modify_write_conflicts(self, store):
        """Two transactions read and update one record: the first commit wins, the second
        raises ConflictError and its value is not written."""
        store.insert("acct", {"n": 0}, id="x")
        t1, t2 = store.transaction(), store.transaction()
        n1, n2 = t1.get("acct", "x")["n"], t2.get("acct", "x")["n"]
        t1.update("acct", "x", {"n": n1 + 1})
        t2.update("acct", "x", {"n": n2 + 10})
        t1.commit()
        with pytest.raises(ConflictError):
            t2.commit()
        assert store.get("acct", "x") == {"n": 1, "id": "x", "_version": last_seq(store)}

    def test_read_only_transaction_conflicts_when_its_read_changed(self, store):
        """A transaction that only read a record fails to commit if the record changed since."""
        store.insert("acct", {"n": 0}, id="x")
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                tx.get("acct", "x")
                store.update("acct", "x", {"n": 5})
        assert store.get("acct", "x")["n"] == 5

    def test_read_of_absent_record_conflicts_when_it_appears(self, store):
        """A transaction that saw a record absent conflicts if someone creates it before commit."""
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                assert tx.get("acct", "x") is None
                tx.put("acct", "y", {"because": "x is absent"})
                store.insert("acct", {"n": 1}, id="x")
        assert store.get("acct", "y") is None

    def test_blind_put_conflicts_when_record_changed(self, store):
        """put/update/delete in a transaction read the record first: if it changes before
        commit, the commit raises ConflictError."""
        store.insert("acct", {"n": 0}, id="x")
        store.insert("acct", {"n": 0}, id="y")
        for write in ("put", "update", "delete"):
            with pytest.raises(ConflictError):
                with store.transaction() as tx:
                    if write == "put":
                        tx.put("acct", "x", {"n": 100})
                    elif write == "update":
                        tx.update("acct", "x", {"n": 100})
                    else:
                        tx.delete("acct", "x")
                    store.update("acct", "x", {"n": store.get("acct", "x")["n"] + 1})
        assert store.get("acct", "x")["n"] == 3

    def test_conflict_writes_nothing_at_all(self, store):
        """A transaction failing on one conflicting record writes none of its other records
        and records no change."""
        store.insert("acct", {"n": 0}, id="x")
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                tx.insert("acct", {"n": 1}, id="fresh")
                tx.put("other", "o", {"n": 1})
                tx.update("acct", "x", {"n": 1})
                store.update("acct", "x", {"n": 2})
                before = snapshot(store)
        assert store.get("acct", "fresh") is None
        assert store.get("other", "o") is None
        assert snapshot(store) == before

    def test_insert_of_existing_id_in_transaction_conflicts(self, store):
        """Inserting an existing id in a transaction raises ConflictError (at the insert or at
        commit at the latest) and the existing record is kept."""
        kept = store.insert("acct", {"n": 0}, id="x")
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                tx.insert("acct", {"n": 1}, id="x")
        assert store.get("acct", "x") == kept

    def test_insert_then_delete_of_existing_id_is_not_lost(self, store):
        """``insert`` of an existing id then ``delete`` of it in one transaction (delete says
        True) never commits silently with the record still there: the commit raises
        ConflictError (the insert's id was taken) and the record is unchanged, or the record
        is gone."""
        kept = store.insert("t", {"v": "old"}, id="x")
        before = snapshot(store)
        try:
            with store.transaction() as tx:
                tx.insert("t", {"v": "new"}, id="x")
                assert tx.delete("t", "x") is True
                assert tx.get("t", "x") is None
        except ConflictError:
            assert store.get("t", "x") == kept
            assert snapshot(store) == before
        else:
            assert store.get("t", "x") is None

    def test_insert_then_delete_of_free_id_commits_nothing(self, store):
        """``insert`` then ``delete`` of a free id in one transaction leaves no record, and
        the commit succeeds."""
        with store.transaction() as tx:
            tx.insert("t", {"v": 1}, id="fresh")
            assert tx.delete("t", "fresh") is True
        assert store.get("t", "fresh") is None

    def test_read_record_deleted_and_recreated_conflicts(self, store):
        """A transaction that read a record conflicts at commit when, meanwhile, the record was
        deleted and created again (even with the same content): no lost update (ABA)."""
        store.insert("acct", {"n": 0}, id="x")
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                n = tx.get("acct", "x")["n"]
                store.delete("acct", "x")
                store.insert("acct", {"n": 0}, id="x")
                tx.update("acct", "x", {"n": n + 1})
        assert store.get("acct", "x")["n"] == 0
        with pytest.raises(ConflictError):
            with store.transaction() as tx:  # a read-only transaction as well
                tx.get("acct", "x")
                store.delete("acct", "x")
                store.put("acct", "x", {"n": 0})
                tx.put("side", "s", {"because": "x was read"})
        assert store.get("side", "s") is None

    def test_put_with_version_from_before_recreate_conflicts_in_transaction(self, store):
        """A transaction's put carrying a ``_version`` read before the record was deleted and
        created again raises ConflictError (at the put or at commit) and writes nothing."""
        stale = store.insert("acct", {"n": 0}, id="x")["_version"]
        store.delete("acct", "x")
        fresh = store.insert("acct", {"n": 0}, id="x")
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                tx.put("acct", "x", {"n": 99, "_version": stale})
        assert store.get("acct", "x") == fresh

    def test_insert_raced_by_another_insert_conflicts(self, store):
        """A transaction's insert of an id that someone else creates before the commit fails
        with ConflictError; the other writer's record is kept."""
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                tx.insert("acct", {"by": "tx"}, id="x")
                store.insert("acct", {"by": "other"}, id="x")
        assert store.get("acct", "x")["by"] == "other"

    def test_version_check_inside_transaction(self, store):
        """``_version`` in a transaction's put/update is checked: a stale one raises
        ConflictError."""
        stale = store.insert("acct", {"n": 0}, id="x")["_version"]
        current = store.update("acct", "x", {"n": 1})["_version"]
        with pytest.raises(ConflictError):
            with store.transaction() as tx:
                tx.update("acct", "x", {"n": 2, "_version": stale})
        with store.transaction() as tx:
            tx.update("acct", "x", {"n": 3, "_version": current})
        assert store.get("acct", "x") == {"n": 3, "id": "x", "_version": last_seq(store)}

    def test_versions_are_the_commits_seq(self, store):
        """Every record a transaction writes gets that commit's seq (what ``commit()`` returns)
        as its ``_version``; inside the transaction, before commit, a written record shows
        ``_version`` None."""
        store.insert("acct", {"n": 0}, id="x")
        tx = store.transaction()
        assert tx.update("acct", "x", {"n": 1})["_version"] is None
        assert tx.insert("acct", {"n": 2}, id="y")["_version"] is None
        assert tx.get("acct", "y")["_version"] is None
        seq = tx.commit()
        assert seq == last_seq(store)
        assert [d["_version"] for d in store.get_many("acct", ["x", "y"])] == [seq, seq]

    # -- atomic ----------------------------------------------------------------------------
    def test_atomic_returns_fn_result_and_commits(self, store):
        """atomic(fn) runs fn(tx) in a transaction, commits, and returns what fn returned."""

        def fn(tx):
            tx.insert("tasks", {"v": 1}, id="a")
            return {"answer": 42}

        assert store.atomic(fn) == {"answer": 42}
        assert store.get("tasks", "a")["v"] == 1

    def test_atomic_retries_after_conflict(self, store):
        """When fn's transaction conflicts, atomic runs fn again on fresh data: no lost update."""
        store.insert("acct", {"n": 0}, id="x")
        calls = []

        def increment(tx):
            n = tx.get("acct", "x")["n"]
            if not calls:  # first attempt: someone else writes the record meanwhile
                store.update("acct", "x", {"n": n + 100})
            calls.append(n)
            tx.update("acct", "x", {"n": n + 1})
            return "done"

        assert store.atomic(increment) == "done"
        assert calls == [0, 100]
        assert store.get("acct", "x")["n"] == 101

    def test_atomic_gives_up_after_retries(self, store):
        """When every attempt conflicts, atomic raises ConflictError after 1 + retries attempts
        and nothing of fn's writes is committed."""
        store.insert("acct", {"n": 0}, id="x")
        calls = []

        def always_raced(tx):
            calls.append(1)
            n = tx.get("acct", "x")["n"]
            tx.put("acct", f"side{len(calls)}", {"v": 1})
            store.update("acct", "x", {"n": n + 1})
            tx.update("acct", "x", {"n": -1})

        with raises_naming(ConflictError, "3 attempts", " s"):
            store.atomic(always_raced, retries=2)
        assert len(calls) == 3
        assert store.get("acct", "x")["n"] == 3
        assert store.get_many("acct", ["side1", "side2", "side3"]) == []

    def test_atomic_gives_up_at_once_on_an_insert_of_a_taken_id(self, store):
        """A function that inserts an id someone else holds, without reading it, conflicts
        however often it runs: atomic raises that ConflictError after one attempt. A function
        that read the record first is retried (it may decide otherwise on fresh data)."""
        store.insert("locks", {"by": "other"}, id="L")
        calls = []

        def take(tx):
            calls.append(1)
            tx.insert("locks", {"by": "me"}, id="L")

        with pytest.raises(ConflictError):
            store.atomic(take)
        assert calls == [1]
        assert store.get("locks", "L")["by"] == "other"

        def take_if_free(tx):
            calls.append(2)
            if tx.get("locks", "M") is None:
                if len(calls) == 2:  # someone takes it between our read and our commit
                    store.insert("locks", {"by": "other"}, id="M")
                tx.insert("locks", {"by": "me"}, id="M")
            return tx.get("locks", "M")["by"]

        assert store.atomic(take_if_free) == "other"
        assert calls == [1, 2, 2]

    def test_atomic_does_not_retry_other_errors(self, store):
        """An exception other than ConflictError propagates at once and rolls back."""
        calls = []

        def failing(tx):
            calls.append(1)
            tx.insert("tasks", {"v": 1}, id="a")
            raise Boom("no")

        with pytest.raises(Boom):
            store.atomic(failing)
        assert calls == [1]
        assert store.get("tasks", "a") is None

    def test_no_lost_updates_under_threads(self, store):
        """Concurrent read-modify-write increments from several threads through atomic()
        all count: the final value is the number of increments."""
        store.insert("acct", {"n": 0}, id="counter")
        threads, per_thread = 4, 10
        errors: list[BaseException] = []

        def work():
            try:
                for _ in range(per_thread):
                    store.atomic(
                        lambda tx: tx.update(
                            "acct", "counter", {"n": tx.get("acct", "counter")["n"] + 1}
                        ),
                        retries=1000,
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert not errors, errors
        assert store.get("acct", "counter")["n"] == threads * per_thread

    def test_atomic_keeps_its_promise_across_processes(self, url, store):
        """8 processes incrementing one counter through atomic() with its default policy: no
        ConflictError escapes and the final count is exact."""
        self.require("multiprocess")
        store.insert("acct", {"n": 0}, id="counter")
        body = """
            def bump(tx):
                tx.update("acct", "counter", {"n": tx.get("acct", "counter")["n"] + 1})
            for _ in range(15):
                store.atomic(bump)
            result = "ok"
        """
        children = [start_child(self, url, body) for _ in range(8)]
        assert [finish_child(child) for child in children] == ["ok"] * 8
        assert store.get("acct", "counter")["n"] == 8 * 15

    def test_async_atomic_under_fifty_tasks(self, opener):
        """50 asyncio tasks x 10 increments of one counter through the async facade's atomic()
        (default policy): no ConflictError escapes and the final count is exact."""
        import asyncio

        from conductor_store import aio

        async def main() -> int:
            store = aio.AsyncStore(opener())
            async with store:
                await store.insert("acct", {"n": 0}, id="counter")

                async def bump(tx) -> None:
                    doc = await tx.get("acct", "counter")
                    await tx.update("acct", "counter", {"n": doc["n"] + 1})

                async def task() -> None:
                    for _ in range(10):
                        await store.atomic(bump)

                await asyncio.gather(*(task() for _ in range(50)))
                final = await store.get("acct", "counter")
                assert final is not None
                return final["n"]

        assert asyncio.run(main()) == 500
