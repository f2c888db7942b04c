"""Watching: ``watch`` and ``subscribe`` deliver every commit once, in commit order, from this
and other processes, resume exactly, filter by table, survive raising callbacks; pruning by the
retention policy and ``ChangesPrunedError``; the workflow monitor's events."""

from __future__ import annotations

import itertools
import logging
import threading
from datetime import datetime, timezone

import pytest

from conductor_store import ValidationError
from conductor_store.errors import ChangesPrunedError
from conductor_store.monitor import WorkflowMonitor

from ._support import finish_child, last_seq, run_child, start_child

#: bound of every wait in these tests (a hang fails instead of blocking the run)
WAIT = 120.0


def _take(iterator, count: int) -> list:
    """The first ``count`` items of ``iterator`` (fewer if it ends first)."""
    return list(itertools.islice(iterator, count))


def _keys(changes) -> list:
    return [(c.seq, c.table, c.id, c.op, c.doc) for c in changes]


def _in_thread(work) -> threading.Thread:
    errors: list = []

    def run():
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def _join(thread: threading.Thread) -> None:
    thread.join(WAIT)
    assert not thread.is_alive(), f"thread still running after {WAIT} s"
    if thread.errors:  # type: ignore[attr-defined]
        raise thread.errors[0]  # type: ignore[attr-defined]


class _Inbox:
    """Collects what a callback receives; ``wait(n)`` blocks until n items arrived."""

    def __init__(self) -> None:
        self.items: list = []
        self._cond = threading.Condition()

    def __call__(self, item) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait(self, count: int) -> list:
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.items) >= count, WAIT)
        assert ok, f"received {len(self.items)} of {count} within {WAIT} s"
        return list(self.items)


_WATCHER_CHILD = """
seen = []
watcher = store.watch(since={since}, timeout={idle})
{ready}
for change in watcher:
    seen.append([change.seq, change.table, change.id, change.op])
    if len(seen) >= {count}:
        break
result = seen
"""

_READY = 'print("ready", flush=True)'

_WRITER_CHILD = """
for i in range({count}):
    if i % 10 == 9:
        with store.transaction() as tx:
            tx.insert("{table}", {{"i": i, "w": "{tag}"}}, id="{tag}-%d" % i)
            tx.insert("audit_entries", {{"i": i, "w": "{tag}"}}, id="{tag}-a%d" % i)
    else:
        store.insert("{table}", {{"i": i, "w": "{tag}"}}, id="{tag}-%d" % i)
result = "ok"
"""


class WatchTests:
    # capability flags, set by Harness (annotations only: no values here)
    multiprocess: bool
    shared_location: bool

    # -- watch ---------------------------------------------------------------------------
    def test_watch_yields_live_commits_in_order_across_tables(self, store):
        """watch() from now yields every later change, across tables and transactions, in
        exactly the order (and with the contents) of changes()."""
        store.insert("tasks", {"v": 0}, id="before")
        start = last_seq(store)
        watcher = store.watch(timeout=WAIT)

        def write():
            for i in range(12):
                store.insert(("tasks", "runs", "audit_entries")[i % 3], {"i": i}, id=f"r{i}")
            with store.transaction() as tx:
                tx.update("tasks", "r0", {"done": True})
                tx.delete("runs", "r1")
                tx.insert("audit_entries", {"i": 99}, id="tx")

        writer = _in_thread(write)
        got = _take(watcher, 15)
        _join(writer)
        assert _keys(got) == _keys(store.changes(start))
        assert [c.id for c in got][:3] == ["r0", "r1", "r2"]
        assert all(a.seq <= b.seq for a, b in zip(got, got[1:]))

    def test_watch_since_replays_then_follows(self, store):
        """watch(since=s) first yields the changes already committed after s, then new ones."""
        for i in range(5):
            store.insert("tasks", {"i": i}, id=f"old{i}")
        watcher = store.watch(since=0, timeout=WAIT)
        first = _take(watcher, 5)
        for i in range(3):
            store.insert("runs", {"i": i}, id=f"new{i}")
        rest = _take(watcher, 3)
        assert _keys(first + rest) == _keys(store.changes())

    def test_watch_from_now_skips_the_past(self, store):
        """watch() without since yields nothing committed before it was called."""
        store.insert("tasks", {"v": 1}, id="past")
        watcher = store.watch(timeout=WAIT)
        store.insert("tasks", {"v": 2}, id="future")
        (change,) = _take(watcher, 1)
        assert (change.id, change.op) == ("future", "insert")

    def test_watch_timeout_ends_an_idle_iteration(self, store):
        """watch(timeout=t) ends when nothing arrives for t seconds (after what there was)."""
        store.insert("tasks", {"v": 1}, id="a")
        assert [c.id for c in store.watch(since=0, timeout=0.2)] == ["a"]
        assert list(store.watch(timeout=0.05)) == []

    def test_watch_table_filter(self, store):
        """watch(tables=[...]) yields only those tables' changes, in commit order, and keeps
        going past commits to other tables."""
        start = last_seq(store)
        watcher = store.watch(tables=["b", "c"], timeout=WAIT)
        for i in range(30):
            store.insert("abc"[i % 3], {"i": i}, id=f"x{i}")
        got = _take(watcher, 20)
        assert _keys(got) == _keys(store.changes(start, tables=["b", "c"]))
        assert {c.table for c in got} == {"b", "c"}
        assert list(store.watch(tables=[], since=0, timeout=0.05)) == []

    def test_watch_refuses_bad_arguments(self, store):
        """since, tables and timeout are checked before anything is read."""
        for bad in (-1, "3", 1.5, True):
            with pytest.raises(ValidationError):
                store.watch(since=bad)
        with pytest.raises(ValidationError):
            store.watch(tables="tasks")
        with pytest.raises(ValidationError):
            store.watch(tables=["Bad-Name"])
        with pytest.raises(ValidationError):
            store.watch(timeout=-1)

    def test_resume_after_watcher_restart_loses_and_repeats_nothing(self, opener):
        """A watcher stopped after some changes, replaced by a new one (on a newly opened
        store where the location allows) resuming from the last seq seen, together see the
        whole log once."""
        first_store = opener()
        for i in range(6):
            first_store.insert("tasks", {"i": i}, id=f"t{i}")
        first = _take(first_store.watch(since=0, timeout=WAIT), 4)
        resume_at = first[-1].seq
        for i in range(6, 9):
            first_store.insert("tasks", {"i": i}, id=f"t{i}")
        second_store = opener() if self.shared_location else first_store
        rest = list(second_store.watch(since=resume_at, timeout=0.3))
        assert _keys(first + rest) == _keys(first_store.changes())

    def test_resume_in_a_new_watcher_process(self, url, store):
        """A watcher process that exits after some changes and a new watcher process resuming
        from its last seq together see every change once, in order."""
        self.require("multiprocess")
        for i in range(8):
            store.insert("tasks", {"i": i}, id=f"t{i}")
        first = run_child(self, url, _WATCHER_CHILD.format(since=0, idle=WAIT, count=5, ready=""))
        for i in range(8, 12):
            store.insert("runs", {"i": i}, id=f"r{i}")
        rest = run_child(
            self, url, _WATCHER_CHILD.format(since=first[-1][0], idle=2, count=99, ready="")
        )
        log = [[c.seq, c.table, c.id, c.op] for c in store.changes()]
        assert first + rest == log

    def test_watcher_process_sees_writer_process(self, url, store):
        """Changes committed by another process reach a watcher in this one, complete and in
        order (and a watcher process sees this process's commits)."""
        self.require("multiprocess")
        start = last_seq(store)
        watcher = store.watch(timeout=WAIT)
        child = start_child(self, url, _WRITER_CHILD.format(count=40, table="tasks", tag="w"))
        got = _take(watcher, 44)
        assert finish_child(child) == "ok"
        assert _keys(got) == _keys(store.changes(start))
        spy = start_child(
            self, url, _WATCHER_CHILD.format(since="None", idle=WAIT, count=1, ready=_READY)
        )
        assert spy.stdout is not None and spy.stdout.readline().strip() == "ready"
        store.insert("pings", {"v": 1}, id="p")
        assert finish_child(spy) == [[last_seq(store), "pings", "p", "insert"]]

    def _burst(self, url, store, commits: int) -> None:
        """Two writers (processes where the backend allows, else threads) commit ``commits``
        commits in all; a watcher receives every change once, in commit order."""
        start = last_seq(store)
        per_writer = commits // 2
        writes_per = per_writer + per_writer // 10  # every 10th commit writes two records
        watcher = store.watch(timeout=WAIT)
        if self.multiprocess:
            kids = [
                start_child(self, url, _WRITER_CHILD.format(count=per_writer, table=t, tag=t))
                for t in ("wa", "wb")
            ]
            got = _take(watcher, 2 * writes_per)
            assert [finish_child(k) for k in kids] == ["ok", "ok"]
        else:
            threads = [
                _in_thread(lambda t=t: _write_in_process(store, per_writer, t))
                for t in ("wa", "wb")
            ]
            got = _take(watcher, 2 * writes_per)
            for thread in threads:
                _join(thread)
        assert len(got) == 2 * writes_per
        assert len({(c.table, c.id) for c in got}) == len(got), "a change was delivered twice"
        assert all(a.seq <= b.seq for a, b in zip(got, got[1:])), "out of commit order"
        for tag in ("wa", "wb"):
            mine = [c.doc["i"] for c in got if c.table == tag]
            assert mine == list(range(per_writer)), f"writer {tag}'s commits out of order"
            # one number per commit of a writer (commits of two writers may share one:
            # group commit); both records of a two-record commit carry it
            seqs = {(c.doc["i"], c.table == tag): c.seq for c in got if c.doc["w"] == tag}
            numbers = [seqs[i, True] for i in range(per_writer)]
            assert all(a < b for a, b in zip(numbers, numbers[1:])), f"{tag}: commits merged"
            assert all(seqs[i, False] == seqs[i, True] for i in range(9, per_writer, 10))
        assert _keys(got) == _keys(store.changes(start))

    def test_burst_of_commits_by_two_writers(self, url, store):
        """A burst of 1,000 commits by two writers reaches a watcher complete and in order."""
        self._burst(url, store, 1_000)

    @pytest.mark.slow
    def test_burst_of_10000_commits_by_two_writers(self, url, store):
        """A burst of 10,000 commits by two writer processes (threads where the backend is
        single-process) reaches a watcher complete, once each, in commit order."""
        self._burst(url, store, 10_000)

    def test_watch_goes_on_after_dropped_connections(self, store):
        """A watcher keeps its position when the server drops every connection: the changes
        committed before and after the drop all arrive, once, in order."""
        self.require("network")
        start = last_seq(store)
        watcher = store.watch(timeout=WAIT)
        store.insert("tasks", {"v": 1}, id="before")
        (first,) = _take(watcher, 1)
        self.drop_connections()
        store.insert("tasks", {"v": 2}, id="after")
        (second,) = _take(watcher, 1)
        assert _keys([first, second]) == _keys(store.changes(start))

    def test_subscription_ends_quietly_when_its_store_closes(self, opener):
        """Closing the store ends its subscriptions' threads (``error`` says the store was
        closed), without an unhandled exception."""
        store = opener()
        inbox = _Inbox()
        sub = store.subscribe(inbox)
        store.insert("tasks", {"v": 1}, id="a")
        inbox.wait(1)
        store.close()
        assert sub.join(WAIT), "the subscription outlived its store"
        assert sub.error is not None and "closed" in str(sub.error)

    # -- subscribe -----------------------------------------------------------------------
    def test_subscribe_delivers_in_commit_order(self, store):
        """subscribe() calls back once per change in commit order; position is the seq of the
        last change delivered."""
        inbox = _Inbox()
        start = last_seq(store)
        with store.subscribe(inbox) as sub:
            for i in range(10):
                store.insert("tasks" if i % 2 else "runs", {"i": i}, id=f"t{i}")
            got = inbox.wait(10)
            assert _keys(got) == _keys(store.changes(start))
            assert sub.position == got[-1].seq

    def test_subscribe_with_tables_and_since(self, store):
        """subscribe(tables=..., since=...) replays the matching past changes, then new ones."""
        store.insert("tasks", {"v": 1}, id="a")
        store.insert("runs", {"v": 1}, id="b")
        inbox = _Inbox()
        with store.subscribe(inbox, tables=["tasks"], since=0):
            store.insert("runs", {"v": 2}, id="c")
            store.insert("tasks", {"v": 2}, id="d")
            got = inbox.wait(2)
        assert [c.id for c in got] == ["a", "d"]

    def test_callback_that_raises_is_logged_and_not_fatal(self, store, caplog):
        """An exception in a callback is logged naming the change, and later changes are
        still delivered."""
        inbox = _Inbox()

        def callback(change):
            inbox(change)
            if change.id == "bad":
                raise RuntimeError("callback failure for the test")

        with caplog.at_level(logging.ERROR, logger="conductor_store"):
            sub = store.subscribe(callback)
            store.insert("tasks", {"v": 1}, id="bad")
            store.insert("tasks", {"v": 2}, id="good")
            got = inbox.wait(2)
            sub.close()
        assert [c.id for c in got] == ["bad", "good"]
        failures = [r for r in caplog.records if "callback" in r.getMessage()]
        assert failures, "the callback's exception was not logged"
        message = failures[0].getMessage()
        assert "tasks:bad" in message and f"seq {got[0].seq}" in message
        assert "callback failure for the test" in (failures[0].exc_text or "") or (
            failures[0].exc_info and "callback failure" in str(failures[0].exc_info[1])
        )

    def test_subscription_close_is_idempotent_and_stops_delivery(self, store):
        """close() stops the subscription's thread (twice is fine); later commits are not
        delivered."""
        inbox = _Inbox()
        sub = store.subscribe(inbox)
        store.insert("tasks", {"v": 1}, id="a")
        inbox.wait(1)
        sub.close()
        sub.close()
        assert not sub.active
        store.insert("tasks", {"v": 2}, id="b")
        assert [c.id for c in list(store.watch(since=0, timeout=0.05))] == ["a", "b"]
        assert [c.id for c in inbox.items] == ["a"]

    # -- retention -----------------------------------------------------------------------
    def test_default_retention_keeps_recent_changes(self, store):
        """The default policy (7 days) prunes nothing just committed."""
        for i in range(5):
            store.insert("tasks", {"i": i})
        log = store.changes()
        assert store.retention.max_age == 7 * 86400
        store.prune_changes()
        assert store.changes() == log

    def test_prune_by_count_and_changes_pruned_error(self, store):
        """With a count policy, prune_changes() forgets all but the newest commits (or, on a
        backend that keeps everything, nothing); a watcher asking for a pruned position gets
        ChangesPrunedError naming the oldest position kept, and one at it resumes."""
        for i in range(20):
            store.insert("tasks", {"i": i}, id=f"t{i}")
        log = store.changes()
        store.set_retention(max_age=None, max_commits=5)
        through = store.prune_changes()
        if through == 0:  # the backend keeps every change (always allowed)
            assert store.changes() == log
            return
        assert through == log[-6].seq
        assert store.changes(through) == log[-5:]
        with pytest.raises(ChangesPrunedError) as info:
            store.watch(since=0)
        assert info.value.oldest == through and str(through) in str(info.value)
        assert _keys(store.watch(since=through, timeout=0.05)) == _keys(log[-5:])

    # -- the workflow monitor -------------------------------------------------------------
    def test_monitor_event_shape(self, store):
        """Monitor events carry CREATE/UPDATE/DELETE, the table, the record id, the record
        (the previous one for DELETE), the commit time (UTC) and the seq."""
        store.insert("tasks", {"status": "pending"}, id="T0")
        inbox = _Inbox()
        with WorkflowMonitor(store) as monitor:
            monitor.on_task_change(inbox)
            store.insert("tasks", {"status": "pending"}, id="T1")
            store.update("tasks", "T1", {"status": "running"})
            store.delete("tasks", "T1")
            store.delete("tasks", "T0")
            events = inbox.wait(4)
        log = store.changes(tables=["tasks"])[-4:]
        assert [e.event_type for e in events] == ["CREATE", "UPDATE", "DELETE", "DELETE"]
        assert {e.table for e in events} == {"tasks"}
        assert [e.record_id for e in events] == ["T1", "T1", "T1", "T0"]
        assert [e.data.get("status") for e in events] == [
            "pending",
            "running",
            "running",
            "pending",
        ]
        assert events[2].data == log[1].doc  # a DELETE carries the record before it
        assert [e.seq for e in events] == [c.seq for c in log]
        for event, change in zip(events, log):
            assert isinstance(event.timestamp, datetime)
            assert event.timestamp.tzinfo == timezone.utc
            if change.time is not None:
                assert event.timestamp.timestamp() == pytest.approx(change.time)

    def test_monitor_delivers_once_per_callback(self, store):
        """Two callbacks on one table each get every event once; subscribing the same callback
        twice returns the same id and still delivers once; state and audit callbacks get only
        their tables (audit: creations)."""
        a, b, state, audit = _Inbox(), _Inbox(), _Inbox(), _Inbox()
        with WorkflowMonitor(store) as monitor:
            id_a = monitor.on_task_change(a)
            assert monitor.on_task_change(a) == id_a
            assert monitor.on_task_change(b) != id_a
            monitor.on_state_change(state)
            monitor.on_audit_entry(audit)
            store.insert("tasks", {"status": "pending"}, id="T1")
            store.put("workflow_state", "state", {"current_phase": 2})
            store.insert("audit_entries", {"agent": "claude"}, id="A1")
            store.update("audit_entries", "A1", {"status": "success"})
            store.update("tasks", "T1", {"status": "done"})
            store.insert("tasks", {"status": "last"}, id="T9")
            a.wait(3)
            b.wait(3)
        assert [e.record_id for e in a.items] == ["T1", "T1", "T9"]
        assert [e.record_id for e in b.items] == ["T1", "T1", "T9"]
        assert [(e.record_id, e.data["current_phase"]) for e in state.items] == [("state", 2)]
        assert [(e.record_id, e.event_type) for e in audit.items] == [("A1", "CREATE")]
        assert not monitor.running


def _write_in_process(store, count: int, tag: str) -> None:
    for i in range(count):
        if i % 10 == 9:
            with store.transaction() as tx:
                tx.insert(tag, {"i": i, "w": tag}, id=f"{tag}-{i}")
                tx.insert("audit_entries", {"i": i, "w": tag}, id=f"{tag}-a{i}")
        else:
            store.insert(tag, {"i": i, "w": tag}, id=f"{tag}-{i}")
