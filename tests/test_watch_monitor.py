"""The asyncio workflow monitor: the seed's "Real-Time Monitoring" example run as written
(only its import line changed), async callbacks on the event loop, failures, stop().
The monitor's event shape and once-per-callback delivery on every backend are conformance
tests (``conductor_store/conformance/watch.py``)."""

from __future__ import annotations

import asyncio
import io
import logging
import textwrap
import threading
from contextlib import redirect_stdout

import pytest

import conductor_store as cs
from conductor_store import StoreError, ValidationError, aio
from conductor_store.examples.memory import open_backend as open_dict
from conductor_store.monitor import WorkflowMonitor, create_workflow_monitor

WAIT = 60.0

#: the seed's example (000_739b9f6e8d97fea8.txt, "Real-Time Monitoring"), verbatim
SEED_EXAMPLE = """\
from orchestrator.db import create_workflow_monitor

async with create_workflow_monitor("my-project") as monitor:
    # Subscribe to task changes
    await monitor.on_task_change(
        lambda event: print(f"Task {event.record_id}: {event.data.get('status')}")
    )

    # Subscribe to state changes
    await monitor.on_state_change(
        lambda event: print(f"Phase: {event.data.get('current_phase')}")
    )

    # Keep running
    await asyncio.sleep(3600)
"""


class _Lines(io.TextIOBase):
    """A stdout that lets a test wait for lines."""

    def __init__(self) -> None:
        self.text = ""
        self.cond = threading.Condition()

    def write(self, s: str) -> int:
        with self.cond:
            self.text += s
            self.cond.notify_all()
        return len(s)

    def wait_for(self, *lines: str) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: all(f"{x}\n" in self.text for x in lines), WAIT)


class _Records(logging.Handler):
    """Lets a test wait until the monitor has logged ``count`` subscriptions."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.cond = threading.Condition()
        self.subscribed = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("monitor subscription"):
            with self.cond:
                self.subscribed += 1
                self.cond.notify_all()

    def wait(self, count: int) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.subscribed >= count, WAIT)


def _subscription_threads() -> list:
    return [t for t in threading.enumerate() if t.name.startswith("conductor-store-subscription")]


def test_seed_real_time_monitoring_example(tmp_path, monkeypatch):
    """The seed's example, with only its import line changed, prints task and phase changes
    committed by another thread, and leaving its ``async with`` stops the monitor."""
    code = SEED_EXAMPLE.replace(
        "from orchestrator.db import", "from conductor_store.monitor import", 1
    )
    assert code.splitlines()[1:] == SEED_EXAMPLE.splitlines()[1:]
    monkeypatch.setenv("CONDUCTOR_STORE_URL", f"json://{tmp_path}/data")
    namespace: dict = {"asyncio": asyncio}
    exec("async def example():\n" + textwrap.indent(code, "    "), namespace)
    out, records = _Lines(), _Records()
    logger = logging.getLogger("conductor_store.monitor")
    logger.addHandler(records)
    monkeypatch.setattr(logger, "level", logging.DEBUG)
    before = len(_subscription_threads())

    def orchestrator():
        assert records.wait(2), "the example did not subscribe"
        with cs.open(project="my-project") as store:
            store.insert("tasks", {"title": "Write parser", "status": "pending"}, id="T1")
            store.put("workflow_state", "state", {"current_phase": 2})
            store.update("tasks", "T1", {"status": "completed"})

    async def main():
        task = asyncio.create_task(namespace["example"]())
        writer = asyncio.create_task(asyncio.to_thread(orchestrator))
        await writer
        seen = await asyncio.to_thread(
            out.wait_for, "Task T1: pending", "Phase: 2", "Task T1: completed"
        )
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return seen

    try:
        with redirect_stdout(out):
            assert asyncio.run(main()), f"printed only: {out.text!r}"
    finally:
        logger.removeHandler(records)
    assert out.text.splitlines() == ["Task T1: pending", "Phase: 2", "Task T1: completed"]
    assert len(_subscription_threads()) == before


def test_async_callbacks_run_on_the_loop_and_failures_are_logged(caplog):
    """Plain and async callbacks both run on the event loop's thread, in commit order; one
    that raises is logged naming the record and the others still get the event; stop() ends
    delivery and the monitor's thread."""

    before = len(_subscription_threads())

    async def main():
        astore = await aio.open("dict://monitor-async")
        loop_thread = threading.get_ident()
        seen, threads = [], set()
        done = asyncio.Event()

        async def async_cb(event):
            await asyncio.sleep(0)
            threads.add(threading.get_ident())
            seen.append(("async", event.record_id, event.event_type))
            if event.record_id == "T3":
                done.set()

        def plain_cb(event):
            threads.add(threading.get_ident())
            seen.append(("plain", event.record_id, event.event_type))

        def broken(event):
            raise RuntimeError("monitor callback failure for the test")

        async with create_workflow_monitor(store=astore) as monitor:
            await monitor.on_task_change(broken)
            await monitor.on_task_change(async_cb)
            await monitor.on_task_change(plain_cb)
            for i in (1, 2, 3):
                await astore.insert("tasks", {"status": "pending"}, id=f"T{i}")
            await asyncio.wait_for(done.wait(), WAIT)
        assert len(_subscription_threads()) == before
        await astore.insert("tasks", {"status": "late"}, id="T4")
        await astore.close()
        return seen, threads, loop_thread

    cs.register("dict", open_dict)
    with caplog.at_level(logging.ERROR, logger="conductor_store"):
        seen, threads, loop_thread = asyncio.run(main())
    expected = []
    for i in (1, 2, 3):
        expected += [("async", f"T{i}", "CREATE"), ("plain", f"T{i}", "CREATE")]
    assert seen == expected
    assert threads == {loop_thread}
    failures = [r for r in caplog.records if "monitor callback" in r.getMessage()]
    assert len(failures) == 3 and "tasks:T1" in failures[0].getMessage()


def test_monitor_refuses_bad_subscriptions():
    """A callback that is not callable, a bad table or unknown event types raise
    ValidationError; an async monitor used before it started raises StoreError."""
    cs.register("dict", open_dict)
    with cs.open("dict://monitor-bad") as store, WorkflowMonitor(store) as monitor:
        with pytest.raises(ValidationError):
            monitor.on_task_change("not callable")
        with pytest.raises(ValidationError):
            monitor.on("Bad-Table", print)
        with pytest.raises(ValidationError):
            monitor.on("tasks", print, event_types=["INSERT"])
    with pytest.raises(StoreError):
        asyncio.run(create_workflow_monitor(store=store).on_task_change(print))
