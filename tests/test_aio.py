"""The asyncio facade forwards to the sync Store; these tests check the forwarding and the
async-specific parts (``async with``, ``atomic`` with an async function)."""

import asyncio

import pytest

from conductor_store import ConflictError, NotFoundError, aio
from conductor_store import open as cs_open


def run(coro):
    return asyncio.run(coro)


def test_calls_are_awaitable_and_return_plain_dicts(tmp_path):
    async def main():
        async with await aio.open(str(tmp_path / "data")) as store:
            created = await store.insert("tasks", {"title": "Write parser"}, id="T1")
            got = await store.get("tasks", "T1")
            found = await store.find("tasks", {"title": "Write parser"})
            return created, got, found, await store.count("tasks")

    created, got, found, count = run(main())
    assert created == got == found[0] == {"title": "Write parser", "id": "T1", "_version": 1}
    assert count == 1


def test_async_with_transaction_commits_and_rolls_back(tmp_path):
    async def main():
        async with await aio.open(str(tmp_path / "data")) as store:
            async with store.transaction() as tx:
                await tx.insert("tasks", {"n": 1}, id="kept")
            with pytest.raises(NotFoundError):
                async with store.transaction() as tx:
                    await tx.insert("tasks", {"n": 2}, id="dropped")
                    await tx.update("tasks", "missing", {"n": 3})
            return await store.get("tasks", "kept"), await store.get("tasks", "dropped")

    kept, dropped = run(main())
    assert kept["n"] == 1
    assert dropped is None


def test_atomic_retries_async_functions_until_no_update_is_lost(tmp_path):
    async def main():
        async with await aio.open(str(tmp_path / "data")) as store:
            await store.insert("counters", {"n": 0}, id="c")

            async def bump(tx):
                doc = await tx.get("counters", "c")
                await asyncio.sleep(0)  # let the other coroutines read the same version
                await tx.update("counters", "c", {"n": doc["n"] + 1})

            await asyncio.gather(*(store.atomic(bump, retries=50) for _ in range(8)))
            return (await store.get("counters", "c"))["n"]

    assert run(main()) == 8


def test_atomic_gives_up_after_its_retries(tmp_path):
    async def main():
        async with await aio.open(str(tmp_path / "data")) as store:
            await store.insert("counters", {"n": 0}, id="c")
            attempts = 0

            async def always_raced(tx):
                nonlocal attempts
                attempts += 1
                await tx.get("counters", "c")
                await store.update("counters", "c", {"n": attempts})  # someone else writes
                await tx.update("counters", "c", {"n": -1})

            with pytest.raises(ConflictError, match="after 3 attempts in"):
                await store.atomic(always_raced, retries=2)
            return attempts, (await store.get("counters", "c"))["n"]

    attempts, n = run(main())
    assert attempts == 3
    assert n == 3


def test_facade_methods_are_real_with_the_sync_signatures():
    """Every public method of Store/Transaction has an async twin with the same parameters and
    a docstring (written out, so editors and type checkers see them)."""
    import inspect

    from conductor_store import Store, Transaction

    reads = ["get", "get_many", "find", "count", "insert", "put", "update", "delete"]
    store_only = ["close", "transaction", "atomic", "tables", "changes", "info"]
    for sync_cls, async_cls, names in (
        (Store, aio.AsyncStore, reads + store_only),
        (Transaction, aio.AsyncTransaction, reads + ["commit", "rollback"]),
    ):
        for name in names:
            twin = getattr(async_cls, name, None)
            assert twin is not None, f"{async_cls.__name__}.{name} is missing"
            assert twin.__doc__, f"{async_cls.__name__}.{name} has no docstring"
            want = list(inspect.signature(getattr(sync_cls, name)).parameters)
            assert list(inspect.signature(twin).parameters) == want, name


def test_atomic_under_fifty_tasks_loses_nothing(tmp_path):
    """50 asyncio tasks x 10 increments of one counter through atomic() with the default
    policy: no ConflictError escapes and the final count is exact."""

    async def main():
        async with await aio.open(str(tmp_path / "data")) as store:
            await store.insert("counters", {"n": 0}, id="c")

            async def bump(tx):
                doc = await tx.get("counters", "c")
                await tx.update("counters", "c", {"n": doc["n"] + 1})

            async def task():
                for _ in range(10):
                    await store.atomic(bump)

            await asyncio.gather(*(task() for _ in range(50)))
            return (await store.get("counters", "c"))["n"]

    assert run(main()) == 500


def test_one_async_store_serves_two_event_loops(tmp_path):
    """An AsyncStore used from two asyncio.run() calls in turn retries conflicts in each
    (its retry queue is per event loop)."""
    store = aio.AsyncStore(cs_open(str(tmp_path / "data")))

    async def contend():
        await store.put("counters", "c", {"n": 0})

        async def bump(tx):
            doc = await tx.get("counters", "c")
            await asyncio.sleep(0)
            await tx.update("counters", "c", {"n": doc["n"] + 1})

        await asyncio.gather(*(store.atomic(bump) for _ in range(5)))
        return (await store.get("counters", "c"))["n"]

    try:
        assert run(contend()) == 5
        assert run(contend()) == 5
    finally:
        run(store.close())
