"""The watch machinery's own parts: the inotify waiter, how a watcher wakes, whole-commit
batches, the position "from now", the retention policy's arithmetic and the amortised prune
(on the dict example backend, which implements pruning), and the asyncio iterator. The
promises every backend keeps are in ``conductor_store/conformance/watch.py``."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import subprocess
import sys
import threading

import pytest

import conductor_store as cs
from conductor_store import _inotify, aio, retention, watch
from conductor_store.backends.jsonfiles import JsonBackend
from conductor_store.errors import ChangesPrunedError, ValidationError
from conductor_store.examples.memory import open_backend as open_dict
from conductor_store.retention import Retention

cs.register("dict", open_dict)
_fresh = itertools.count()
WAIT = 60.0


class SignallingJsonBackend(JsonBackend):
    """The JSON backend naming its log directory as the change signal (what its owner's
    ``change_signal_path`` will do), so that watchers wait with inotify."""

    def change_signal_path(self):
        return os.path.join(self.info()["path"], self._project, ".meta", "log")


def _open_signalling(url, *, project, **options):
    return SignallingJsonBackend(url, url[len("jsonsig://") :], project, **options)


cs.register("jsonsig", _open_signalling)


@pytest.fixture
def dict_store():
    with cs.open(f"dict://watch-{next(_fresh)}") as store:
        yield store


def _in_thread(fn, *args):
    out: dict = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _joined(thread, out):
    thread.join(WAIT)
    assert not thread.is_alive(), "still blocked"
    if "error" in out:
        raise out["error"]
    return out.get("value")


# -- the inotify waiter ------------------------------------------------------------------------
needs_inotify = pytest.mark.skipif(not _inotify.available(), reason="no inotify on this platform")


@needs_inotify
def test_inotify_waiter_sees_writes_in_a_directory(tmp_path):
    """wait() is False while nothing changes and True once a file in the directory is
    written (events queued before the call count); wake() ends a wait in another thread."""
    with _inotify.InotifyWaiter(str(tmp_path)) as waiter:
        assert waiter.wait(0) is False
        (tmp_path / "log").write_text("line\n")
        assert waiter.wait(WAIT) is True
        assert waiter.wait(0) is False  # drained
        thread, out = _in_thread(waiter.wait, WAIT)
        waiter.wake()
        assert _joined(thread, out) is True


def test_inotify_waiter_refuses_a_missing_path(tmp_path):
    """A path that cannot be watched raises OSError (watchers then poll instead)."""
    with pytest.raises(OSError):
        _inotify.InotifyWaiter(str(tmp_path / "missing"))


@needs_inotify
def test_watcher_uses_inotify_when_the_backend_names_a_path(tmp_path):
    """A backend with change_signal_path() gets an inotify watcher; a commit by another
    process reaches it; close() from another thread ends a blocked wait."""
    url = f"jsonsig://{tmp_path}/data"
    with cs.open(url) as store:
        watcher = watch.Watcher(store)
        assert watcher.waiter == "inotify"
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import conductor_store as cs, sys\n"
                "with cs.open(sys.argv[1]) as s: s.insert('tasks', {'v': 1}, id='child')",
                f"json://{tmp_path}/data",
            ],
            check=True,
            timeout=WAIT,
        )
        (change,) = watcher.next_batch(WAIT)
        assert (change.id, change.op) == ("child", "insert")
        thread, out = _in_thread(watcher.next_batch, None)
        watcher.close()
        assert _joined(thread, out) == []


def test_watcher_polls_without_a_signal_path(dict_store):
    """Without a signal path the watcher uses wait_for_commit; a commit in this process wakes
    a blocked watcher, and close() from another thread ends the wait with []."""
    watcher = watch.Watcher(dict_store)
    assert watcher.waiter == "wait_for_commit"
    thread, out = _in_thread(watcher.next_batch, None)
    dict_store.insert("tasks", {"v": 1}, id="a")
    assert [c.id for c in _joined(thread, out)] == ["a"]
    thread, out = _in_thread(watcher.next_batch, None)
    watcher.close()
    assert _joined(thread, out) == []


def test_poll_for_commit_times_out_and_sees_commits(dict_store):
    """The default wait_for_commit is False when nothing comes and True for a commit after
    the position given."""
    backend = dict_store.backend
    assert backend.wait_for_commit(0, 0.01) is False
    dict_store.insert("tasks", {"v": 1})
    assert backend.wait_for_commit(0, 0.01) is True
    assert backend.wait_for_commit(1, 0.01) is False


# -- positions and batches ---------------------------------------------------------------------
def test_head_seq_is_the_last_commit(dict_store):
    """head_seq finds the last commit number: 0 when empty, after many commits, after pruning."""
    backend = dict_store.backend
    assert watch.head_seq(backend) == 0
    for i in range(300):
        dict_store.insert("tasks", {"i": i})
    assert watch.head_seq(backend) == 300
    backend.prune_changes(300)
    assert watch.head_seq(backend) == 300


def test_a_commit_larger_than_a_batch_is_delivered_whole(dict_store, monkeypatch):
    """A commit with more changes than a batch holds still arrives in one batch, and
    resuming from its seq repeats none of it."""
    monkeypatch.setattr(watch, "BATCH", 3)
    dict_store.insert("tasks", {"v": 0}, id="first")
    with dict_store.transaction() as tx:
        for i in range(7):
            tx.insert("tasks", {"i": i}, id=f"t{i}")
    dict_store.insert("tasks", {"v": 0}, id="last")
    watcher = watch.Watcher(dict_store, since=0)
    batches = [watcher.next_batch(0) for _ in range(4)]
    assert batches[-1] == []
    flat = [c for b in batches for c in b]
    assert [c.id for c in flat] == ["first"] + [f"t{i}" for i in range(7)] + ["last"]
    tx_seq = flat[1].seq
    assert any([c.seq for c in b].count(tx_seq) == 7 for b in batches)  # one batch has it all
    resumed = list(dict_store.watch(since=tx_seq, timeout=0))
    assert [c.id for c in resumed] == ["last"]


# -- retention ---------------------------------------------------------------------------------
def test_retention_refuses_bad_settings(dict_store):
    """Negative, non-numeric or boolean limits raise ValidationError."""
    for kwargs in ({"max_age": -1}, {"max_age": "7d"}, {"max_commits": 1.5}, {"max_commits": True}):
        with pytest.raises(ValidationError):
            Retention(**kwargs)
    with pytest.raises(ValidationError):
        dict_store.set_retention(max_commits=-3)


def test_prune_by_age_keeps_younger_commits(dict_store):
    """By age, commits at or before now - max_age go and younger ones stay."""
    for i in range(6):
        dict_store.insert("tasks", {"i": i})
    log = dict_store.changes()
    middle = log[2].time
    expected = max(c.seq for c in log if c.time <= middle)
    through = retention.prune(dict_store.backend, Retention(max_age=100), now=middle + 100)
    assert through == expected
    assert dict_store.changes(through) == [c for c in log if c.seq > expected]


def test_prune_by_age_and_count_takes_the_stricter(dict_store):
    """With both limits, whichever lets more go decides."""
    for i in range(10):
        dict_store.insert("tasks", {"i": i})
    log = dict_store.changes()
    policy = Retention(max_age=3600, max_commits=4)
    assert retention.prune_position(dict_store.backend, policy, now=log[0].time) == 6
    assert retention.prune_position(dict_store.backend, policy, now=log[-1].time + 3600) == 10
    assert retention.prune_position(dict_store.backend, Retention(None, None)) == 0


def test_store_prunes_on_commit_now_and_then(dict_store, monkeypatch):
    """The Store applies its policy by itself every PRUNE_EVERY_COMMITS commits."""
    monkeypatch.setattr(retention, "PRUNE_EVERY_COMMITS", 5)
    dict_store.set_retention(max_age=None, max_commits=3)
    for i in range(12):
        dict_store.insert("tasks", {"i": i})
    pruned = dict_store.backend.pruned_through()
    assert pruned >= 7  # pruned at least after the 10th commit
    assert [c.seq for c in dict_store.changes(pruned)] == list(range(pruned + 1, 13))
    with pytest.raises(ChangesPrunedError) as info:
        dict_store.watch(since=0)
    assert info.value.oldest == pruned and f"since={pruned}" in str(info.value)


def test_a_failing_prune_never_fails_the_commit(dict_store, monkeypatch, caplog):
    """If pruning raises, the commit that triggered it still succeeds and a warning is logged."""

    def broken(through):
        raise RuntimeError("prune broke for the test")

    monkeypatch.setattr(type(dict_store.backend), "prune_changes", lambda self, t: broken(t))
    monkeypatch.setattr(retention, "PRUNE_EVERY_COMMITS", 1)
    dict_store.set_retention(max_age=None, max_commits=1)
    with caplog.at_level(logging.WARNING, logger="conductor_store"):
        dict_store.insert("tasks", {"v": 1}, id="a")
        dict_store.insert("tasks", {"v": 2}, id="b")
    assert dict_store.get("tasks", "b")["v"] == 2
    assert any("prune broke for the test" in r.getMessage() for r in caplog.records)


def test_subscription_ends_with_the_error_when_its_position_is_pruned(dict_store):
    """A subscription whose next changes were pruned away stops with ChangesPrunedError in
    ``error`` (instead of silently skipping them)."""
    entered, gate = threading.Event(), threading.Event()
    got = []

    def slow(change):
        got.append(change.seq)
        entered.set()
        gate.wait(WAIT)

    dict_store.insert("tasks", {"v": 0})
    sub = dict_store.subscribe(slow, since=0)
    assert entered.wait(WAIT)  # it has read commit 1 and is delivering it
    for i in range(5):
        dict_store.insert("tasks", {"i": i})
    dict_store.set_retention(max_age=None, max_commits=1)
    assert dict_store.prune_changes() == 5
    gate.set()
    assert sub.join(WAIT)
    assert isinstance(sub.error, ChangesPrunedError) and sub.error.oldest == 5
    assert got == [1]


# -- asyncio -----------------------------------------------------------------------------------
def test_async_watch_iterates_and_stops(dict_store):
    """``async for change in astore.watch(...)`` yields the changes; the timeout ends it."""

    async def main():
        astore = aio.AsyncStore(dict_store)
        await astore.insert("tasks", {"v": 1}, id="a")
        seen = [c.id async for c in astore.watch(since=0, timeout=0.05)]
        watcher = await astore.watch(timeout=WAIT)  # awaiting takes the position now
        writer = asyncio.create_task(astore.insert("tasks", {"v": 2}, id="b"))
        first = await watcher.__anext__()
        await writer
        await watcher.aclose()
        with pytest.raises(StopAsyncIteration):
            await watcher.__anext__()
        return seen, first.id

    assert asyncio.run(main()) == (["a"], "b")
