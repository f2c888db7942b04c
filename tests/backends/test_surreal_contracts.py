"""The lead's contracts on the SurrealDB backends (mem://, surrealkv://, ws:// loopback):
``_version`` is the seq of the commit that last wrote the record (no ABA), ``Change.time`` is
the commit's time, the change log stays dense when several backends commit to one database."""

from __future__ import annotations

import threading
import time

import pytest

import conductor_store as cs


def test_version_is_the_seq_of_the_commit_that_last_wrote_it(store):
    store.insert("t", {}, id="other")
    doc = store.insert("t", {"v": 1}, id="a")
    assert doc["_version"] == 2 == store.changes()[-1].seq
    assert store.update("t", "a", {"v": 2})["_version"] == 3
    assert store.put("t", "a", {"v": 3})["_version"] == 4
    store.delete("t", "a")  # seq 5
    assert store.insert("t", {"v": 4}, id="a")["_version"] == 6  # never 1 again
    assert [c.doc["_version"] for c in store.changes() if c.doc] == [1, 2, 3, 4, 6]
    assert store.get("t", "a")["_version"] == 6 and store.get("t", "other")["_version"] == 1


def test_a_transaction_that_read_a_record_deleted_and_recreated_meanwhile_conflicts(store):
    """ABA: the tx read R; R is deleted and created again (same content); the commit raises."""
    store.insert("t", {"n": 0}, id="r")
    with pytest.raises(cs.ConflictError):
        with store.transaction() as tx:
            seen = tx.get("t", "r")
            store.delete("t", "r")
            store.insert("t", {"n": 0}, id="r")
            tx.put("t", "r", {"n": seen["n"] + 1})
    assert strip(store.get("t", "r")) == {"n": 0}


def test_a_put_carrying_a_version_read_before_delete_and_recreate_conflicts(store):
    old = store.insert("t", {"n": 0}, id="r")
    store.delete("t", "r")
    store.insert("t", {"n": 0}, id="r")
    with pytest.raises(cs.ConflictError):
        store.put("t", "r", {"n": 1, "_version": old["_version"]})
    assert strip(store.get("t", "r")) == {"n": 0}


def test_change_time_is_the_commit_time(store):
    before = time.time()
    store.insert("t", {}, id="a")
    result_time = store.changes()[0].time
    after = time.time()
    assert isinstance(result_time, float) and before - 1 <= result_time <= after + 1
    with store.transaction() as tx:
        tx.insert("t", {}, id="b")
        tx.insert("u", {}, id="c")
    times = {c.seq: c.time for c in store.changes()}
    assert len(times) == 2 and times[2] >= times[1]
    assert [c.time for c in store.changes(since=1)] == [times[2], times[2]]


def test_two_stores_on_one_database_keep_the_log_dense(url):
    """Each backend guesses the next number from what it saw; a stale guess is retried."""
    with cs.open(url) as a, cs.open(url) as b:
        errors: list = []

        def writer(store, prefix):
            try:
                for i in range(40):
                    store.insert("t", {"i": i}, id=f"{prefix}{i}")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(s, p)) for s, p in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        seqs = [c.seq for c in a.changes()]
        assert seqs == list(range(1, 81))
        assert sorted(d["_version"] for d in b.find("t")) == seqs


def strip(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("id", "_version")}
