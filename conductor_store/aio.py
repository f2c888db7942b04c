"""The asyncio facade: the same calls as :class:`~conductor_store.Store`, awaitable.

Each call runs the synchronous store in a worker thread (``asyncio.to_thread``), so the event
loop never blocks on disk or network I/O::

    from conductor_store import aio

    async with await aio.open("mem://") as store:
        await store.insert("tasks", {"title": "Write parser"}, id="T1")
        async with store.transaction() as tx:
            task = await tx.get("tasks", "T1")
            await tx.update("tasks", "T1", {"attempts": task.get("attempts", 0) + 1})

Nothing is decided here: every method forwards to the method of the same name (validation,
bookkeeping and the retry loop of :meth:`atomic` are the sync store's).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import weakref
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, TypeVar

from .backends.base import Change, IndexSpec
from .errors import ConflictError
from .retry import Attempts, RetryPolicy
from .store import Store, Transaction
from .store import open as _open_sync

T = TypeVar("T")

Where = dict | str | None
_in_turn = contextvars.ContextVar("conductor_store_atomic_in_turn", default=False)


async def open(url: str | None = None, *, project: str = "default", **options: Any) -> "AsyncStore":
    """Open a store without blocking the event loop; see :func:`conductor_store.open`."""
    return AsyncStore(await asyncio.to_thread(_open_sync, url, project=project, **options))


class _Reads:
    """The awaitable reads of :class:`AsyncStore` and :class:`AsyncTransaction`."""

    _sync: Store | Transaction

    async def get(self, table: str, id: str) -> dict | None:
        """The record, or None; see :meth:`Store.get`."""
        return await asyncio.to_thread(self._sync.get, table, id)

    async def get_many(self, table: str, ids: Iterable[str]) -> list[dict]:
        """Records in the order asked, missing ones left out; see :meth:`Store.get_many`."""
        return await asyncio.to_thread(self._sync.get_many, table, ids)

    async def find(
        self,
        table: str,
        where: Where = None,
        *,
        params: dict | None = None,
        order_by: str | list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Records matching ``where``; see :meth:`Store.find`."""
        return await asyncio.to_thread(
            self._sync.find,
            table,
            where,
            params=params,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )

    async def count(self, table: str, where: Where = None, *, params: dict | None = None) -> int:
        """How many records match ``where``; see :meth:`Store.count`."""
        return await asyncio.to_thread(self._sync.count, table, where, params=params)

    async def insert(self, table: str, doc: dict, *, id: str | None = None) -> dict:
        """Create a record; see :meth:`Store.insert` / :meth:`Transaction.insert`."""
        return await asyncio.to_thread(self._sync.insert, table, doc, id=id)

    async def put(self, table: str, id: str, doc: dict) -> dict:
        """Create or replace a record; see :meth:`Store.put`."""
        return await asyncio.to_thread(self._sync.put, table, id, doc)

    async def update(self, table: str, id: str, changes: dict) -> dict:
        """Shallow-merge ``changes`` into a record; see :meth:`Store.update`."""
        return await asyncio.to_thread(self._sync.update, table, id, changes)

    async def delete(self, table: str, id: str) -> bool:
        """Delete a record; True if it existed. See :meth:`Store.delete`."""
        return await asyncio.to_thread(self._sync.delete, table, id)

    async def query(self, sql: str, params: dict | None = None) -> list[dict]:
        """Rows of a portable read-only SELECT; see :meth:`Store.query`."""
        return await asyncio.to_thread(self._sync.query, sql, params)

    # -- the orchestrator's repositories (conductor_store.records), awaitable ----------------
    @property
    def workflow(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.workflow)

    @property
    def tasks(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.tasks)

    @property
    def milestones(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.milestones)

    @property
    def audit(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.audit)

    @property
    def errors(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.errors)

    @property
    def checkpoints(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.checkpoints)

    @property
    def sessions(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.sessions)

    @property
    def budget(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.budget)

    @property
    def events(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.events)

    @property
    def git(self) -> "AsyncRepository":
        return AsyncRepository(lambda: self._sync.git)


class AsyncTransaction(_Reads):
    """Awaitable :class:`~conductor_store.Transaction`; ``async with`` commits or rolls back."""

    def __init__(self, sync: Transaction) -> None:
        self._sync: Transaction = sync

    async def __aenter__(self) -> "AsyncTransaction":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await asyncio.to_thread(self._sync.__exit__, exc_type, exc, tb)

    async def commit(self) -> int | None:
        """Apply every buffered write atomically; see :meth:`Transaction.commit`."""
        return await asyncio.to_thread(self._sync.commit)

    async def rollback(self) -> None:
        """Discard the buffered writes (no I/O, so it does not need a thread)."""
        self._sync.rollback()


class AsyncStore(_Reads):
    """Awaitable :class:`~conductor_store.Store`."""

    def __init__(self, sync: Store) -> None:
        self._sync: Store = sync
        self._turns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> Lock

    @property
    def sync(self) -> Store:
        """The underlying synchronous store."""
        return self._sync

    async def __aenter__(self) -> "AsyncStore":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the backend's files, locks and connections; see :meth:`Store.close`."""
        await asyncio.to_thread(self._sync.close)

    def transaction(self) -> AsyncTransaction:
        """``async with store.transaction() as tx:`` -- see :meth:`Store.transaction`."""
        return AsyncTransaction(self._sync.transaction())

    async def atomic(
        self,
        fn: Callable[[AsyncTransaction], Awaitable[T]],
        *,
        retries: int | None = None,
        policy: RetryPolicy | None = None,
    ) -> T:
        """Like :meth:`Store.atomic` with an ``async`` function (same policy, same loop)."""
        attempts = Attempts(policy, retries)
        while True:
            async with self._turn(attempts.queued):
                tx = self.transaction()
                try:
                    async with tx:
                        return await fn(tx)
                except ConflictError as error:
                    final = await asyncio.to_thread(tx._sync.conflict_is_final)
                    pause = attempts.pause_after(error, final)
            await asyncio.sleep(pause)

    @contextlib.asynccontextmanager
    async def _turn(self, queued: bool) -> AsyncIterator[None]:
        """Retries take turns (see :class:`~conductor_store.retry.Attempts`); an atomic()
        nested in a retry's function does not wait for its own turn."""
        if not queued or _in_turn.get():
            yield
            return
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:  # one lock per event loop (a Lock belongs to the loop it waits in)
            turn = self._turns[loop] = asyncio.Lock()
        async with turn:
            token = _in_turn.set(True)
            try:
                yield
            finally:
                _in_turn.reset(token)

    async def tables(self) -> list[str]:
        """Names of the tables holding records; see :meth:`Store.tables`."""
        return await asyncio.to_thread(self._sync.tables)

    async def changes(
        self, since: int = 0, *, tables: Iterable[str] | None = None, limit: int | None = None
    ) -> list[Change]:
        """Changes of commits numbered above ``since``; see :meth:`Store.changes`."""
        return await asyncio.to_thread(self._sync.changes, since, tables=tables, limit=limit)

    async def info(self) -> dict[str, Any]:
        """Which backend, where, which project; see :meth:`Store.info`."""
        return await asyncio.to_thread(self._sync.info)

    # -- indexes (the async twins of Store.ensure_index / Store.indexes) -------------------
    async def ensure_index(
        self, table: str, fields: str | Iterable[str], *, unique: bool = False
    ) -> IndexSpec:
        """Declare an index; see :meth:`Store.ensure_index`."""
        return await asyncio.to_thread(self._sync.ensure_index, table, fields, unique=unique)

    async def indexes(self, table: str | None = None) -> list[IndexSpec]:
        """The indexes the backend keeps; see :meth:`Store.indexes`."""
        return await asyncio.to_thread(self._sync.indexes, table)

    # -- raw SurrealQL, similarity search ------------------------------------------------------
    async def surrealql(self, text: str, vars: dict | None = None) -> list:
        """Raw SurrealQL on a SurrealDB backend; see :meth:`Store.surrealql`."""
        return await asyncio.to_thread(self._sync.surrealql, text, vars)

    async def nearest(
        self,
        table: str,
        field: str,
        vector: list[float],
        k: int = 10,
        where: Where = None,
        *,
        params: dict | None = None,
    ) -> list[tuple[dict, float]]:
        """The ``k`` most cosine-similar records; see :meth:`Store.nearest`."""
        return await asyncio.to_thread(
            self._sync.nearest, table, field, vector, k, where, params=params
        )

    # -- watching and retention (conductor_store/watch.py, retention.py) ---------------------
    def watch(
        self,
        since: int | None = None,
        *,
        tables: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> "AsyncWatch":
        """``async for change in store.watch(...)``; see :meth:`Store.watch`."""
        return AsyncWatch(self._sync, since, tables, timeout)

    async def subscribe(
        self,
        callback: Callable[[Change], Any],
        *,
        tables: Iterable[str] | None = None,
        since: int | None = None,
    ) -> Any:
        """A background subscription; see :meth:`Store.subscribe`."""
        return await asyncio.to_thread(
            lambda: self._sync.subscribe(callback, tables=tables, since=since)
        )

    async def prune_changes(self) -> int:
        """Apply the retention policy now; see :meth:`Store.prune_changes`."""
        return await asyncio.to_thread(self._sync.prune_changes)

    def set_retention(
        self, *, max_age: float | None = 7 * 86400, max_commits: int | None = None
    ) -> Any:
        """Set this project's change-log retention (no I/O); see :meth:`Store.set_retention`."""
        return self._sync.set_retention(max_age=max_age, max_commits=max_commits)


# -- watching the change log (conductor_store/watch.py) --------------------------------------
class AsyncWatch:
    """``async for change in astore.watch(since, tables=..., timeout=...)``: the changes of
    :meth:`Store.watch`, read in batches in a worker thread. The position ``since=None``
    ("from now") is taken when iteration starts, or at once with
    ``watcher = await astore.watch()``; leaving the loop (or cancelling the task) stops it."""

    def __init__(self, store: Store, since: Any, tables: Any, timeout: Any) -> None:
        from collections import deque

        from .watch import _check_timeout

        self._args = (store, since, tables)
        self._timeout = _check_timeout(timeout)
        self._watcher: Any = None
        self._buffer: Any = deque()
        self._done = False

    def __aiter__(self) -> "AsyncWatch":
        return self

    def __await__(self) -> Any:
        return self._start().__await__()

    async def _start(self) -> "AsyncWatch":
        from .watch import Watcher

        if self._watcher is None:
            self._watcher = await asyncio.to_thread(Watcher, *self._args)
        return self

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        try:
            await self._start()
            if not self._buffer:
                batch = await asyncio.to_thread(self._watcher.next_batch, self._timeout)
                if not batch:
                    raise StopAsyncIteration
                self._buffer.extend(batch)
        except BaseException:
            await self.aclose()
            raise
        return self._buffer.popleft()

    async def aclose(self) -> None:
        self._done = True
        if self._watcher is not None:
            self._watcher.close()

    async def __aenter__(self) -> "AsyncWatch":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


# -- records: async repositories and the seed's helpers (conductor_store.records) ----------
class AsyncRepository:
    """Every public method of a repository (``store.tasks``, ``store.audit``, ...) as a
    coroutine run in a worker thread. ``resolve`` makes the sync repository on first use, in
    that thread (so even opening the store never blocks the loop)."""

    def __init__(self, resolve: Callable[[], Any]) -> None:
        self._resolve = resolve
        self._repo: Any = None

    def _target(self) -> Any:
        if self._repo is None:
            self._repo = self._resolve()
        return self._repo

    def using(self, tx: AsyncTransaction) -> "AsyncRepository":
        """The repository inside ``tx`` (its calls commit with ``async with``'s commit)."""
        return AsyncRepository(lambda: self._target().using(tx._sync))

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(lambda: getattr(self._target(), name)(*args, **kwargs))

        call.__name__ = name
        return call


def _helper(attribute: str, project: str) -> AsyncRepository:
    from .records.factories import project_store

    return AsyncRepository(lambda: getattr(project_store(project), attribute))


def get_workflow_repository(project: str = "default") -> AsyncRepository:
    """The async workflow-state repository of ``project``."""
    return _helper("workflow", project)


def get_task_repository(project: str = "default") -> AsyncRepository:
    """The async task repository of ``project``."""
    return _helper("tasks", project)


def get_milestone_repository(project: str = "default") -> AsyncRepository:
    """The async milestone repository of ``project``."""
    return _helper("milestones", project)


def get_audit_repository(project: str = "default") -> AsyncRepository:
    """The async audit-trail repository of ``project``."""
    return _helper("audit", project)


def get_error_pattern_repository(project: str = "default") -> AsyncRepository:
    """The async error-pattern repository (kept in the shared project)."""
    return _helper("errors", project)


def get_checkpoint_repository(project: str = "default") -> AsyncRepository:
    """The async checkpoint repository of ``project``."""
    return _helper("checkpoints", project)


def get_session_repository(project: str = "default") -> AsyncRepository:
    """The async session repository of ``project``."""
    return _helper("sessions", project)


def get_budget_repository(project: str = "default") -> AsyncRepository:
    """The async budget repository of ``project``."""
    return _helper("budget", project)


def get_event_repository(project: str = "default") -> AsyncRepository:
    """The async workflow-event repository of ``project``."""
    return _helper("events", project)


def get_git_commit_repository(project: str = "default") -> AsyncRepository:
    """The async git-commit repository of ``project``."""
    return _helper("git", project)


def is_surrealdb_enabled() -> bool:
    """True when the configured URL is a SurrealDB one; see the sync helper."""
    from .records.factories import is_surrealdb_enabled as enabled

    return enabled()


async def close_repositories() -> None:
    """Close every store the helpers opened, in a worker thread."""
    from .records.factories import close_repositories as close

    await asyncio.to_thread(close)
