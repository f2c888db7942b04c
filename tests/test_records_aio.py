"""The async repositories: every repository method is a coroutine on ``aio`` stores and
transactions, runs in worker threads, and many coroutines at once lose nothing."""

from __future__ import annotations

import asyncio

import pytest

from conductor_store import NotFoundError, aio


def test_async_repositories_many_tasks_at_once(tmp_path):
    """60 concurrent create_entry/record_invocation/claim_next coroutines: distinct ids, no
    lost update, every task claimed once."""

    async def main():
        async with await aio.open(f"json://{tmp_path}/data") as store:
            entries = await asyncio.gather(
                *(store.audit.create_entry("claude", "T1", f"p{i}") for i in range(20))
            )
            await store.sessions.create_session("S1", "T1", "claude")
            await asyncio.gather(*(store.sessions.record_invocation("S1", 0.5) for _ in range(20)))
            await store.tasks.bulk_create([{"task_id": f"T{i}", "title": "t"} for i in range(20)])
            claimed = await asyncio.gather(*(store.tasks.claim_next(f"w{i}") for i in range(20)))
            session = await store.sessions.get_session("S1")
            return entries, session, claimed

    entries, session, claimed = asyncio.run(main())
    assert len({e.id for e in entries}) == 20
    assert (session.invocation_count, session.total_cost_usd) == (20, 10.0)
    assert sorted(t.task_id for t in claimed) == sorted(f"T{i}" for i in range(20))


def test_async_transaction_repositories(tmp_path):
    """``tx.tasks`` and ``repo.using(tx)`` inside ``async with`` commit together or not at
    all; errors come through unchanged."""

    async def main():
        async with await aio.open("mem://") as store:
            async with store.transaction() as tx:
                await tx.tasks.create_task("T1", "one")
                await store.tasks.using(tx).create_task("T2", "two", dependencies=["T1"])
            with pytest.raises(NotFoundError):
                async with store.transaction() as tx:
                    await tx.tasks.create_task("T3", "three")
                    await tx.tasks.set_status("missing", "completed")
            with pytest.raises(AttributeError):
                store.tasks._private  # noqa: B018 - private names are not forwarded
            found = await store.nearest("tasks", "v", [1.0], 1)
            return await store.tasks.get_progress(), await store.tasks.get_task("T3"), found

    progress, missing, found = asyncio.run(main())
    assert progress["total"] == 2 and missing is None and found == []
