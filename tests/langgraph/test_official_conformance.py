"""LangGraph's own checkpointer conformance suite (``langgraph-checkpoint-conformance``) on
every backend: the report must say FULL, every extended capability detected and passed."""

from __future__ import annotations

import asyncio
import itertools

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

import conductor_store as cs
from conductor_store.langgraph import StoreSaver

_projects = itertools.count()


def test_langgraph_conformance_is_full(url):
    @checkpointer_test(name="StoreSaver")
    async def saver_factory():
        # a fresh project per capability suite: the suite expects an empty saver each time
        store = await asyncio.to_thread(cs.open, url, project=f"lg{next(_projects)}")
        try:
            yield StoreSaver(store)
        finally:
            await asyncio.to_thread(store.close)

    report = asyncio.run(validate(saver_factory))
    outcome = {name: (r.detected, r.passed, r.failures) for name, r in report.results.items()}
    assert set(outcome) == {c.value for c in ALL_CAPABILITIES}, outcome
    assert all(detected and passed for detected, passed, _ in outcome.values()), outcome
    assert report.conformance_level() == "FULL", outcome
