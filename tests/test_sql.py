"""store.query beyond the conformance suite: the async facade, store.surrealql on each kind of
backend, and the plan cache."""

from __future__ import annotations

import asyncio

import pytest

import conductor_store as cs
from conductor_store import aio
from conductor_store.sql import bind


def test_async_query_and_transaction_query(tmp_path):
    """aio's store.query and tx.query answer like the sync calls."""

    async def main():
        async with await aio.open(f"json://{tmp_path}") as store:
            await store.insert("t", {"a": 1}, id="x")
            async with store.transaction() as tx:
                await tx.insert("t", {"a": 2}, id="y")
                inside = await tx.query("SELECT SUM(a) AS s FROM t")
            return inside, await store.query("SELECT COUNT(*) AS n FROM t WHERE a > :v", {"v": 0})

    assert asyncio.run(main()) == ([{"s": 3}], [{"n": 2}])


def test_surrealql_on_surrealdb_runs_raw_statements():
    """store.surrealql runs raw SurrealQL with bound vars, one result per statement."""
    with cs.open("mem://") as store:
        store.insert("t", {"a": 1}, id="x")
        results = store.surrealql("SELECT a FROM t WHERE a = $v; RETURN 2", {"v": 1})
        assert results == [[{"a": 1}], 2]
        with pytest.raises(cs.QueryError, match="SurrealQL failed"):
            store.surrealql("SELECT FROM WHERE")


def test_surrealql_elsewhere_is_a_query_error(tmp_path):
    """On the JSON backend (or inside a transaction) store.surrealql raises QueryError."""
    with cs.open(f"json://{tmp_path}") as store:
        with pytest.raises(cs.QueryError, match="SurrealDB"):
            store.surrealql("SELECT * FROM t")
        with store.transaction() as tx, pytest.raises(cs.QueryError, match="transaction"):
            tx.surrealql("SELECT * FROM t")


def test_a_query_text_is_planned_once_and_bound_per_params():
    """The same text and params give the same bound query (compiled once); other params a
    different one."""
    sql = "SELECT agent, SUM(cost) FROM t WHERE agent = :a GROUP BY agent"
    first = bind(sql, {"a": "x"})
    assert bind(sql, {"a": "x"}) is first
    other = bind(sql, {"a": "y"})
    assert other is not first and other.plan is first.plan
