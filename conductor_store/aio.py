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
from .retry import RetryPolicy
from .store import Attempts, Store, Transaction
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
        """Retries take turns (see :class:`~conductor_store.store.Attempts`); an atomic()
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
