"""The workflow monitor: callbacks on tasks, workflow state and audit entries, as in the seed.

::

    from conductor_store.monitor import create_workflow_monitor

    async with create_workflow_monitor("my-project") as monitor:
        await monitor.on_task_change(
            lambda event: print(f"Task {event.record_id}: {event.data.get('status')}")
        )
        await monitor.on_state_change(
            lambda event: print(f"Phase: {event.data.get('current_phase')}")
        )
        await asyncio.sleep(3600)

A monitor is one :class:`~conductor_store.watch.Subscription` (one thread, one position in the
change log) shared by all its callbacks, so it works on every backend and across processes.
Each event reaches each callback once, in commit order: registering the same callback twice
for a table returns the same id and it is still called once (Conductor's monitor leaked a live
query and delivered everything twice). Callbacks may be plain or ``async``; an exception in
one is logged and the others still run. :class:`WorkflowMonitor` calls them on its thread;
the monitor of :func:`create_workflow_monitor` runs them on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from .backends.base import Change
from .errors import StoreError, ValidationError
from .store import Store
from .store import open as _open

log = logging.getLogger("conductor_store.monitor")

TASKS, STATE, AUDIT = "tasks", "workflow_state", "audit_entries"
EVENT_TYPES = {"insert": "CREATE", "update": "UPDATE", "delete": "DELETE"}


@dataclass(frozen=True)
class LiveEvent:
    """One record's change: ``event_type`` CREATE/UPDATE/DELETE, ``record_id`` the id without
    the table, ``data`` the record after the change (the record before it for DELETE),
    ``timestamp`` the commit time (UTC), ``seq`` the commit's number."""

    event_type: str
    table: str
    record_id: str
    data: dict
    timestamp: datetime
    seq: int


@dataclass(frozen=True)
class _Handler:
    table: str
    callback: Callable[[LiveEvent], Any]
    event_types: frozenset


def _call_plain(callback: Callable[[LiveEvent], Any], event: LiveEvent) -> None:
    """Call a callback from the monitor's thread; an awaitable result is run to its end."""
    result = callback(event)
    if inspect.isawaitable(result):
        asyncio.run(_await(result))


async def _await(awaitable: Any) -> Any:
    return await awaitable


class WorkflowMonitor:
    """Callbacks on a store's workflow tables, on one background thread (``stop()`` ends it).

    ``since=None`` delivers what is committed after the monitor starts; a seq replays from
    there. ``dispatch(event, callbacks)`` (advanced) replaces how callbacks are called.
    """

    def __init__(
        self,
        store: Store,
        *,
        since: int | None = None,
        dispatch: Callable[[LiveEvent, list], None] | None = None,
    ) -> None:
        self._store = store
        self._dispatch = dispatch or self._call_all
        self._lock = threading.Lock()
        self._handlers: dict[str, _Handler] = {}
        self._previous: dict[tuple, dict] = {}  # the last record seen, for DELETE events
        self._tracked: set[str] = set()
        self._subscription = store.subscribe(self._on_change, since=since)

    # -- subscribing ---------------------------------------------------------------------
    def on_task_change(self, callback: Callable[[LiveEvent], Any]) -> str:
        """Every CREATE/UPDATE/DELETE of a task; returns the subscription id."""
        return self.on(TASKS, callback)

    def on_state_change(self, callback: Callable[[LiveEvent], Any]) -> str:
        """Every change of the workflow state record(s)."""
        return self.on(STATE, callback)

    def on_audit_entry(
        self, callback: Callable[[LiveEvent], Any], *, creations_only: bool = True
    ) -> str:
        """New audit entries (with ``creations_only=False``, their updates and deletes too)."""
        types = ("CREATE",) if creations_only else None
        return self.on(AUDIT, callback, event_types=types)

    def on(
        self,
        table: str,
        callback: Callable[[LiveEvent], Any],
        *,
        event_types: Iterable[str] | None = None,
    ) -> str:
        """Call ``callback(event)`` for changes of ``table`` (of ``event_types`` only, when
        given). The same callback, table and types again returns the same id (one delivery)."""
        from .watch import _check_tables

        _check_tables([table])
        if not callable(callback):
            raise ValidationError(f"callback must be callable, not {callback!r}")
        types = frozenset(EVENT_TYPES.values() if event_types is None else event_types)
        if not types <= set(EVENT_TYPES.values()):
            raise ValidationError(
                f"event_types must be among CREATE, UPDATE, DELETE, not {sorted(types)}"
            )
        handler = _Handler(table, callback, types)
        with self._lock:
            for sub_id, known in self._handlers.items():
                if known == handler:
                    return sub_id
            sub_id = uuid.uuid4().hex
            self._handlers[sub_id] = handler
            prime = "DELETE" in types and table not in self._tracked
            if prime:
                self._tracked.add(table)
        if prime:
            self._prime(table)
        log.debug("monitor subscription %s: %r on %s %s", sub_id, callback, table, sorted(types))
        return sub_id

    def unsubscribe(self, sub_id: str) -> bool:
        """Stop one callback; True if the id was subscribed."""
        with self._lock:
            return self._handlers.pop(sub_id, None) is not None

    def _prime(self, table: str) -> None:
        """Remember the table's current records so that a DELETE can carry the previous one."""
        for doc in self._store.find(table):
            with self._lock:
                self._previous.setdefault((table, doc["id"]), doc)

    # -- delivering ----------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        event_type = EVENT_TYPES[change.op]
        key = (change.table, change.id)
        before = None
        with self._lock:
            if change.table in self._tracked:
                if change.doc is None:
                    before = self._previous.pop(key, None)
                else:
                    self._previous[key] = change.doc
            calls = [
                h.callback
                for h in self._handlers.values()
                if h.table == change.table and event_type in h.event_types
            ]
        if not calls:
            return
        data = change.doc if change.doc is not None else (before or {"id": change.id})
        stamp = change.time if change.time is not None else _now()
        event = LiveEvent(
            event_type,
            change.table,
            change.id,
            dict(data),
            datetime.fromtimestamp(stamp, timezone.utc),
            change.seq,
        )
        self._dispatch(event, calls)

    @staticmethod
    def _call_all(event: LiveEvent, callbacks: list) -> None:
        for callback in callbacks:
            try:
                _call_plain(callback, event)
            except Exception:
                _log_failure(callback, event)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def position(self) -> int:
        """The seq of the last change delivered (resume a new monitor with ``since=``)."""
        return self._subscription.position

    @property
    def running(self) -> bool:
        return self._subscription.active

    def stop(self) -> None:
        """Stop delivering (idempotent); returns once no callback runs any more."""
        self._subscription.close()
        with self._lock:
            self._handlers.clear()

    def __enter__(self) -> "WorkflowMonitor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _now() -> float:
    import time

    return time.time()


def _log_failure(callback: Any, event: LiveEvent) -> None:
    log.exception(
        "monitor callback %r raised on %s %s:%s (seq %s)",
        callback,
        event.event_type,
        event.table,
        event.record_id,
        event.seq,
    )


class AsyncWorkflowMonitor:
    """The asyncio monitor of :func:`create_workflow_monitor`: ``async with`` starts and
    stops it; callbacks (plain or ``async``) run on the event loop, one event at a time."""

    def __init__(
        self, project: str, *, url: str | None, store: Any, since: int | None, options: dict
    ) -> None:
        self._project, self._url, self._options = project, url, options
        self._store = getattr(store, "sync", store)  # an AsyncStore or a Store
        self._owns_store = store is None
        self._since = since
        self._monitor: WorkflowMonitor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()

    async def start(self) -> "AsyncWorkflowMonitor":
        if self._monitor is None:
            self._loop = asyncio.get_running_loop()
            if self._store is None:
                self._store = await asyncio.to_thread(
                    _open, self._url, project=self._project, **self._options
                )
            self._monitor = await asyncio.to_thread(
                WorkflowMonitor, self._store, since=self._since, dispatch=self._dispatch
            )
        return self

    def _dispatch(self, event: LiveEvent, callbacks: list) -> None:
        """On the monitor's thread: run the callbacks on the loop and wait for them."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(_run_on_loop(event, callbacks), loop)
        while not self._stopping.is_set() and not loop.is_closed():
            try:
                future.result(timeout=0.5)
                return
            except concurrent.futures.TimeoutError:
                continue
        future.cancel()

    def _started(self) -> WorkflowMonitor:
        if self._monitor is None:
            raise StoreError("start the monitor first: async with create_workflow_monitor(...)")
        return self._monitor

    # subscribing may read the table (to know the records a DELETE removes): in a thread
    async def on_task_change(self, callback: Callable[[LiveEvent], Any]) -> str:
        return await asyncio.to_thread(self._started().on_task_change, callback)

    async def on_state_change(self, callback: Callable[[LiveEvent], Any]) -> str:
        return await asyncio.to_thread(self._started().on_state_change, callback)

    async def on_audit_entry(
        self, callback: Callable[[LiveEvent], Any], *, creations_only: bool = True
    ) -> str:
        monitor = self._started()
        return await asyncio.to_thread(
            monitor.on_audit_entry, callback, creations_only=creations_only
        )

    async def on(self, table: str, callback: Callable[[LiveEvent], Any], **kwargs: Any) -> str:
        return await asyncio.to_thread(self._started().on, table, callback, **kwargs)

    async def unsubscribe(self, sub_id: str) -> bool:
        return self._started().unsubscribe(sub_id)

    @property
    def position(self) -> int:
        return self._started().position

    async def stop(self) -> None:
        """Stop every callback; closes the store if the monitor opened it."""
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            await asyncio.to_thread(monitor.stop)
            self._stopping.set()
        if self._owns_store and self._store is not None:
            store, self._store = self._store, None
            await asyncio.to_thread(store.close)

    async def __aenter__(self) -> "AsyncWorkflowMonitor":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _run_on_loop(event: LiveEvent, callbacks: list) -> None:
    for callback in callbacks:
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            _log_failure(callback, event)


def create_workflow_monitor(
    project: str = "default",
    *,
    url: str | None = None,
    store: Any = None,
    since: int | None = None,
    **options: Any,
) -> AsyncWorkflowMonitor:
    """``async with create_workflow_monitor("my-project") as monitor:`` -- a monitor of the
    project's store at ``url`` (default: ``$CONDUCTOR_STORE_URL``, as :func:`open`), or of
    ``store`` (a Store or AsyncStore, left open)."""
    return AsyncWorkflowMonitor(project, url=url, store=store, since=since, options=options)
