"""store.query's grouped aggregate beside sqlite3 running the same SQL on the same rows.

``SELECT agent, SUM(cost_usd) AS total FROM audit_entries GROUP BY agent`` over 10,000 and
100,000 audit entries on JSON files and mem:// (surrealkv:// too with ``--bench-full``). Each
round lasts at least 200 ms (several calls); the store's and sqlite's rounds interleave (sqlite
runs as each round's setup) and ``extra_info`` carries both medians and the ratio (sqlite's
time / the store's: 1.0 is as fast as sqlite). Run: ``pytest benchmarks/test_sql.py
--benchmark-only -s``.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time

import pytest

import conductor_store as cs

SQL = "SELECT agent, SUM(cost_usd) AS total FROM audit_entries GROUP BY agent"
AGENTS = ["claude", "codex", "gemini", "llama", "mistral", None]
RESULTS: list = []


def _rows(n: int) -> list[dict]:
    rng = random.Random(n)
    return [
        {"id": f"a{i:07d}", "agent": rng.choice(AGENTS), "cost_usd": round(rng.random(), 6),
         "task_id": f"T{i % 500}", "status": rng.choice(["ok", "failed"])}
        for i in range(n)
    ]  # fmt: skip


def _store(url: str, rows: list[dict]) -> cs.Store:
    store = cs.open(url)
    for start in range(0, len(rows), 5000):
        with store.transaction() as tx:
            for row in rows[start : start + 5000]:
                tx.insert(
                    "audit_entries", {k: v for k, v in row.items() if k != "id"}, id=row["id"]
                )
    return store


def _sqlite(rows: list[dict]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE audit_entries (id TEXT PRIMARY KEY, agent TEXT, cost_usd REAL, "
               "task_id TEXT, status TEXT)")  # fmt: skip
    db.executemany(
        "INSERT INTO audit_entries VALUES (:id, :agent, :cost_usd, :task_id, :status)", rows
    )
    return db


def _calls_per_round(fn) -> int:
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6)
    return max(1, int(0.2 / once) + 1)


@pytest.mark.parametrize("n", [10_000, 100_000], ids=["10k", "100k"])
@pytest.mark.parametrize("backend", ["json", "mem", "surrealkv"])
def test_group_by_sum(benchmark, request, tmp_path, backend, n):
    if backend == "surrealkv" and not request.config.getoption("--bench-full"):
        pytest.skip("surrealkv:// only with --bench-full")
    rows = _rows(n)
    url = {"json": f"json://{tmp_path}/data", "mem": "mem://",
           "surrealkv": f"surrealkv://{tmp_path}/kv"}[backend]  # fmt: skip
    store, db = _store(url, rows), _sqlite(rows)
    try:
        got = {r["agent"]: r["total"] for r in store.query(SQL)}
        want = dict(db.execute(SQL).fetchall())
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) < 1e-6 for k in want)  # fsum vs sqlite's running sum
        k_store = _calls_per_round(lambda: store.query(SQL))
        k_sqlite = _calls_per_round(lambda: db.execute(SQL).fetchall())
        sqlite_times: list = []

        def sqlite_round():
            start = time.perf_counter()
            for _ in range(k_sqlite):
                db.execute(SQL).fetchall()
            sqlite_times.append((time.perf_counter() - start) / k_sqlite)

        def store_round():
            for _ in range(k_store):
                store.query(SQL)

        benchmark.group = f"GROUP BY + SUM over {n:,} rows"
        benchmark.pedantic(store_round, setup=sqlite_round, rounds=5, iterations=1)
        store_s = statistics.median(benchmark.stats.stats.data) / k_store
        sqlite_s = statistics.median(sqlite_times)
        ratio = sqlite_s / store_s
        benchmark.extra_info.update(
            {"store_ms": store_s * 1e3, "sqlite_ms": sqlite_s * 1e3, "ratio_vs_sqlite": ratio}
        )
        RESULTS.append((backend, n, store_s * 1e3, sqlite_s * 1e3, ratio))
        print(f"\n{backend:10} {n:>7,} rows: store {store_s * 1e3:8.2f} ms, "
              f"sqlite {sqlite_s * 1e3:7.2f} ms, ratio {ratio:.2f}x sqlite")  # fmt: skip
    finally:
        store.close()
        db.close()
