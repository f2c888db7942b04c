"""Group commit on the JSON backend: concurrent threads of one process share a log line.

Each test makes the batch deterministic: a second backend on the same directory holds the
writers' file lock, the first committing thread (the leader) blocks on it, and the test waits
until every other thread is queued behind it; released, the next leader commits them as one.
"""

from __future__ import annotations

import threading
import time

import pytest

import conductor_store as cs
from conductor_store import ConflictError, NotFoundError

THREADS = 8


def _queued(store: cs.Store) -> int:
    queue = store.backend._queue
    return 0 if queue is None else len(queue._queue)


def _run_batched(tmp_path, commits) -> tuple[cs.Store, list]:
    """Run each of ``commits`` (callables taking the store) in its own thread while another
    backend holds the lock, so that all but the first are queued into one batch."""
    store = cs.open(str(tmp_path), project="p")
    store.put("t", "warm", {"n": 0})  # the queue exists and the view is current
    blocker = cs.open(str(tmp_path), project="p")
    outcomes: list = [None] * len(commits)

    def run(i: int) -> None:
        try:
            outcomes[i] = commits[i](store)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    blocker.backend._lock()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commits))]
    try:
        threads[0].start()
        _wait(lambda: _queued(store) == 1)
        for t in threads[1:]:
            t.start()
        _wait(lambda: _queued(store) == len(commits))
    finally:
        blocker.backend._unlock()
    for t in threads:
        t.join(timeout=60)
    blocker.close()
    return store, outcomes


def _wait(cond, timeout: float = 30.0) -> None:
    """Poll a condition another thread makes true (bounded; no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "the threads never queued"
        time.sleep(0.001)


def _seq_of(store: cs.Store, table: str, id: str) -> int:
    return store.get(table, id)["_version"]


def test_queued_threads_share_one_commit(tmp_path):
    def insert(i):
        return lambda s: s.insert("t", {"n": i}, id=f"r{i}")

    store, outcomes = _run_batched(tmp_path, [insert(i) for i in range(THREADS)])
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    seqs = sorted({_seq_of(store, "t", f"r{i}") for i in range(THREADS)})
    # the leader alone, then everyone queued behind it in one line
    assert len(seqs) == 2
    assert {o["_version"] for o in outcomes[1:]} == {seqs[1]}
    changes = store.changes(since=seqs[0])
    assert [c.seq for c in changes] == [seqs[1]] * (THREADS - 1)
    assert sorted(c.id for c in changes) == sorted(f"r{i}" for i in range(1, THREADS))
    store.close()
    reopened = cs.open(str(tmp_path), project="p")
    assert reopened.count("t") == THREADS + 1
    reopened.close()


def test_a_failed_member_fails_alone(tmp_path):
    store0 = cs.open(str(tmp_path), project="p")
    store0.put("t", "x", {"n": 1})
    stale = store0.get("t", "x")["_version"]
    store0.put("t", "x", {"n": 2})
    store0.close()

    def stale_put(s):
        return s.put("t", "x", {"n": 3, "_version": stale})

    commits = [
        lambda s: s.insert("t", {"n": 0}, id="lead"),
        lambda s: s.insert("t", {"n": 1}, id="a"),
        stale_put,
        lambda s: s.update("t", "missing", {"n": 1}),
        lambda s: s.insert("t", {"n": 1}, id="b"),
    ]
    store, outcomes = _run_batched(tmp_path, commits)
    assert isinstance(outcomes[2], ConflictError)
    assert isinstance(outcomes[3], NotFoundError)
    assert outcomes[1]["_version"] == outcomes[4]["_version"]
    assert store.get("t", "x")["n"] == 2
    assert store.get("t", "missing") is None
    assert {c.id for c in store.changes(since=outcomes[0]["_version"])} == {"a", "b"}
    store.close()


def test_unique_conflict_within_a_batch(tmp_path):
    store0 = cs.open(str(tmp_path), project="p")
    store0.ensure_index("u", ["email"], unique=True)
    store0.close()
    commits = [
        lambda s: s.insert("u", {"email": "lead@x"}, id="lead"),
        lambda s: s.insert("u", {"email": "a@x"}, id="a1"),
        lambda s: s.insert("u", {"email": "a@x"}, id="a2"),
        lambda s: s.insert("u", {"email": "b@x"}, id="b"),
    ]
    store, outcomes = _run_batched(tmp_path, commits)
    assert isinstance(outcomes[1], dict) and isinstance(outcomes[3], dict)
    assert isinstance(outcomes[2], ConflictError)
    assert store.find("u", "email = 'a@x'") == [store.get("u", "a1")]
    assert store.get("u", "a2") is None
    store.close()


def test_members_touching_the_same_record_are_not_batched(tmp_path):
    store0 = cs.open(str(tmp_path), project="p")
    store0.put("t", "c", {"n": 0})
    store0.close()

    def bump(s):
        return s.atomic(lambda tx: tx.put("t", "c", {"n": tx.get("t", "c")["n"] + 1}))

    store, outcomes = _run_batched(tmp_path, [bump] * THREADS)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert store.get("t", "c")["n"] == THREADS
    versions = [c.seq for c in store.changes(since=0) if c.id == "c"]
    assert len(versions) == len(set(versions)) == THREADS + 1  # each write its own commit
    store.close()


@pytest.mark.parametrize("durable", [True, False])
def test_many_threads_lose_nothing(tmp_path, durable):
    store = cs.open(str(tmp_path), project="p", durable=durable)
    per = 40

    def writer(k: int) -> None:
        for i in range(per):
            store.insert("t", {"k": k, "i": i}, id=f"{k}-{i}")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert store.count("t") == THREADS * per
    seqs = [c.seq for c in store.changes(since=0)]
    assert seqs == sorted(seqs) and len(seqs) == THREADS * per
    store.close()
    reopened = cs.open(str(tmp_path), project="p")
    assert reopened.count("t") == THREADS * per
    reopened.close()
