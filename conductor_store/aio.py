"""The asyncio facade: the same calls as :class:`~conductor_store.Store`, awaitable.

Each call runs the synchronous store in a worker thread (``asyncio.to_thread``), so the event
loop never blocks on disk or network I/O::

    from conductor_store import aio

    async with await aio.open("mem://") as store:
        await store.insert("tasks", {"title": "Write parser"}, id="T1")
        async with store.transaction() as tx:
            task = await tx.get("tasks", "T1")
            await tx.update("tasks", "T1", {"attempts": task.get("attempts", 0) + 1})
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

from .errors import ConflictError
from .store import Store, Transaction, retry_delays
from .store import open as _open_sync

T = TypeVar("T")


async def open(url: str | None = None, *, project: str = "default", **options: Any) -> "AsyncStore":
    """Open a store without blocking the event loop; see :func:`conductor_store.open`."""
    return AsyncStore(await asyncio.to_thread(_open_sync, url, project=project, **options))


def _forward(name: str) -> Callable[..., Awaitable[Any]]:
    async def call(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self._sync, name), *args, **kwargs)

    call.__name__ = name
    return call


class AsyncTransaction:
    """Awaitable :class:`~conductor_store.Transaction`; ``async with`` commits or rolls back."""

    def __init__(self, sync: Transaction) -> None:
        self._sync = sync

    async def __aenter__(self) -> "AsyncTransaction":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await asyncio.to_thread(self._sync.__exit__, exc_type, exc, tb)

    for _name in (
        "get",
        "get_many",
        "insert",
        "put",
        "update",
        "delete",
        "find",
        "count",
        "commit",
        "rollback",
    ):
        locals()[_name] = _forward(_name)
    del _name


class AsyncStore:
    """Awaitable :class:`~conductor_store.Store`."""

    def __init__(self, sync: Store) -> None:
        self._sync = sync

    @property
    def sync(self) -> Store:
        """The underlying synchronous store."""
        return self._sync

    async def __aenter__(self) -> "AsyncStore":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def transaction(self) -> AsyncTransaction:
        return AsyncTransaction(self._sync.transaction())

    async def atomic(
        self, fn: Callable[[AsyncTransaction], Awaitable[T]], *, retries: int = 10
    ) -> T:
        """Like :meth:`Store.atomic` with an ``async`` function: retried on ``ConflictError``."""
        delays = retry_delays(retries)
        while True:
            try:
                async with self.transaction() as tx:
                    return await fn(tx)
            except ConflictError:
                pause = next(delays, None)
                if pause is None:
                    raise
                await asyncio.sleep(pause)

    for _name in (
        "insert",
        "put",
        "get",
        "get_many",
        "update",
        "delete",
        "find",
        "count",
        "tables",
        "changes",
        "info",
        "close",
    ):
        locals()[_name] = _forward(_name)
    del _name


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


def _watch(
    self: AsyncStore, since: Any = None, *, tables: Any = None, timeout: Any = None
) -> AsyncWatch:
    return AsyncWatch(self._sync, since, tables, timeout)


AsyncStore.watch = _watch  # type: ignore[attr-defined]
for _name in ("subscribe", "prune_changes", "set_retention"):
    setattr(AsyncStore, _name, _forward(_name))
del _name

# -- SQL (conductor_store/sql): ``await store.query(sql, params)``, ``await tx.query(...)``,
# ``await store.surrealql(text, vars)`` -----------------------------------------------------
AsyncStore.query = _forward("query")  # type: ignore[attr-defined]
AsyncStore.surrealql = _forward("surrealql")  # type: ignore[attr-defined]
AsyncTransaction.query = _forward("query")  # type: ignore[attr-defined]


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


def _async_repository(name: str) -> property:
    return property(lambda self: AsyncRepository(lambda: getattr(self._sync, name)))


def _async_helper(name: str, attribute: str) -> Callable[..., AsyncRepository]:
    def helper(project: str = "default") -> AsyncRepository:
        return AsyncRepository(lambda: getattr(_store_of(project), attribute))

    helper.__name__ = name
    helper.__doc__ = (
        f"The async ``{attribute}`` repository of ``project`` (see conductor_store.{name})."
    )
    return helper


from . import records as _records_pkg  # noqa: E402
from .records import factories as _records_factories  # noqa: E402

_store_of = _records_factories.project_store

for _name in _records_pkg.REPOSITORIES:
    setattr(AsyncStore, _name, _async_repository(_name))
    setattr(AsyncTransaction, _name, _async_repository(_name))


async def _nearest(self: AsyncStore, *args: Any, **kwargs: Any) -> list[tuple[dict, float]]:
    """Awaitable :meth:`Store.nearest`."""
    return await asyncio.to_thread(self._sync.nearest, *args, **kwargs)


setattr(AsyncStore, "nearest", _nearest)  # noqa: B010 - kept out of the class body (merges)
for _name, _attribute in _records_factories.HELPERS.items():
    globals()[_name] = _async_helper(_name, _attribute)
del _name, _attribute

is_surrealdb_enabled = _records_factories.is_surrealdb_enabled


async def close_repositories() -> None:
    """Close every store the helpers opened, in a worker thread."""
    await asyncio.to_thread(_records_factories.close_repositories)
