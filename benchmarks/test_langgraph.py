"""StoreSaver beside LangGraph's own SQLite saver: ``put`` + ``get_tuple`` of a typical
checkpoint (a 20-message conversation, a step counter, a plan), per backend.

Each round does enough operations to last >= 200 ms, and runs the SQLite saver's round right
before the Store's (as pytest-benchmark's setup), so both see the same machine state; the ratio
is the median of the per-round ratios (``extra_info["ratio_vs_sqlite"]``, > 1 is faster).

    python -m pytest benchmarks/test_langgraph.py --benchmark-only
"""

from __future__ import annotations

import sqlite3
import statistics
import time
import uuid

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.sqlite import SqliteSaver

import conductor_store as cs
from conductor_store.langgraph import StoreSaver

ROUND_SECONDS = 0.2
ROUNDS = 7


def typical_step(saver, thread: str, parent: dict | None, step: int) -> dict:
    """One super-step: a new checkpoint whose messages and step changed, then read it back."""
    checkpoint = empty_checkpoint()
    messages = [{"role": "user" if i % 2 else "ai", "content": "x" * 200} for i in range(20)]
    checkpoint["channel_values"] = {"messages": messages, "step": step, "plan": ["a", "b", "c"]}
    versions = {"messages": step + 1, "step": step + 1, "plan": 1}
    checkpoint["channel_versions"] = versions
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    if parent:
        config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
    new = {"messages": step + 1, "step": step + 1} if step else versions
    stored = saver.put(config, checkpoint, {"source": "loop", "step": step}, new)
    assert saver.get_tuple(stored) is not None
    return stored


class Workload:
    """Rounds of ``n`` steps on one thread each; ``n`` calibrated on the slower saver."""

    def __init__(self, saver) -> None:
        self.saver = saver
        self.times: list[float] = []

    def round(self, n: int) -> None:
        thread, parent = uuid.uuid4().hex, None
        start = time.perf_counter()
        for step in range(n):
            parent = typical_step(self.saver, thread, parent, step)
        self.times.append(time.perf_counter() - start)


def calibrate(*workloads: Workload) -> int:
    n = 8
    while True:
        start = time.perf_counter()
        for w in workloads:
            Workload(w.saver).round(n)
        if time.perf_counter() - start >= ROUND_SECONDS * len(workloads):
            return n
        n *= 2


@pytest.fixture(params=["json", "mem", "surrealkv"])
def store(request, tmp_path):
    url = {
        "json": f"json://{tmp_path}/json",
        "mem": "mem://",
        "surrealkv": f"surrealkv://{tmp_path}/kv",
    }[request.param]
    with cs.open(url) as s:
        yield s


def test_put_and_get_tuple_vs_sqlite_saver(benchmark, store, tmp_path):
    conn = sqlite3.connect(tmp_path / "lg.sqlite", check_same_thread=False)
    ours, sqlite = Workload(StoreSaver(store)), Workload(SqliteSaver(conn))
    n = calibrate(ours, sqlite)
    benchmark.group = "langgraph put+get_tuple"
    benchmark.pedantic(
        ours.round, args=(n,), setup=lambda: sqlite.round(n), rounds=ROUNDS, iterations=1
    )
    ratios = [s / o for o, s in zip(ours.times, sqlite.times)]
    benchmark.extra_info.update(
        steps_per_round=n,
        store_steps_per_s=round(n / statistics.median(ours.times)),
        sqlite_steps_per_s=round(n / statistics.median(sqlite.times)),
        ratio_vs_sqlite=round(statistics.median(ratios), 3),
    )
    print(f"\n{store.info()['backend']}: {benchmark.extra_info}")
    conn.close()
