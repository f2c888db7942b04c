"""The records layer's costs per backend: ``claim_next`` throughput with 1 and 4 workers, and
``get_statistics`` over 10,000 audit entries.

Run ``python -m pytest benchmarks/test_records.py --benchmark-only`` (``--bench-quick`` for a
smoke run with small counts). Each round is timed by pytest-benchmark; ``extra_info`` holds
the derived rate (claims/s, or entries/s for the statistics). 4 workers are 4 threads, each
with its own store where the location can be shared (JSON files, ``surrealkv://``, the tests'
loopback SurrealDB server as ``remote``), else all
on one store (``mem://``); ``test_claim_next_processes`` runs 4 worker processes on JSON files.
Every claim is checked to be handed out exactly once.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading

import pytest

import conductor_store as cs

BACKENDS = {
    "json": lambda tmp: f"json://{tmp}/data",
    "mem": lambda tmp: "mem://",
    "surrealkv": lambda tmp: f"surrealkv://{tmp}/data",
}
SHARED_LOCATION = {"json": True, "mem": False, "surrealkv": True, "remote": True}
_fresh = itertools.count()


def _counts(config) -> tuple[int, int, int]:
    """(tasks per claim round, audit entries, rounds)."""
    if config.getoption("--bench-quick", default=False):
        return 40, 1_000, 2
    return 200, 10_000, 5


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    """The tests' loopback SurrealDB server (a subprocess), for the ``remote`` rows."""
    try:
        from tests.support import LoopbackServer
    except ImportError:  # pragma: no cover - run from the repository root with python -m pytest
        pytest.skip("tests.support is not importable: run python -m pytest from the repository")
    server = LoopbackServer(data=tmp_path_factory.mktemp("loopback") / "data").start()
    yield f"ws://{server.user}:{server.password}@127.0.0.1:{server.port}"
    server.kill()


@pytest.fixture(params=[*sorted(BACKENDS), "remote"])
def backend(request, tmp_path_factory):
    if request.param == "remote":
        base = request.getfixturevalue("loopback")
        return "remote", lambda: f"{base}/?namespace=bench{next(_fresh)}"
    return request.param, lambda: BACKENDS[request.param](tmp_path_factory.mktemp("records"))


def _open(backend) -> tuple[cs.Store, str]:
    url = backend[1]()
    return cs.open(url, project="bench"), url


@pytest.mark.parametrize("workers", [1, 4])
def test_claim_next(benchmark, backend, workers, request):
    """claim_next until every task is claimed, by 1 or 4 concurrent workers."""
    n_tasks, _, rounds = _counts(request.config)
    name = backend[0]
    opened: list[cs.Store] = []
    benchmark.group = f"claim_next x{workers}"
    state: dict = {}

    def setup():
        store, url = _open(backend)
        opened.append(store)
        store.tasks.bulk_create(
            [
                {"task_id": f"T{i:04d}", "title": "t", "priority": ("low", "high")[i % 2]}
                for i in range(n_tasks)
            ]
        )
        stores = [
            cs.open(url, project="bench") if SHARED_LOCATION[name] else store
            for _ in range(workers)
        ]
        opened.extend(s for s in stores if s is not store)
        state["stores"] = stores
        return (), {}

    def claim_all():
        got: list[list[str]] = [[] for _ in range(workers)]

        def work(k: int) -> None:
            while True:
                task = state["stores"][k].tasks.claim_next(f"w{k}")
                if task is None:
                    return
                got[k].append(task.task_id)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        claimed = sorted(t for g in got for t in g)
        assert claimed == [f"T{i:04d}" for i in range(n_tasks)]

    try:
        benchmark.pedantic(claim_all, setup=setup, rounds=rounds, iterations=1)
    finally:
        for store in reversed(opened):
            store.close()
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {"backend": name, "workers": workers, "claims_per_s": round(n_tasks / median)}
    )


def test_get_statistics(benchmark, backend, request):
    """get_statistics() over 10,000 finished audit entries of 4 agents and 3 models."""
    _, n_entries, rounds = _counts(request.config)
    store, _ = _open(backend)
    benchmark.group = f"get_statistics over {n_entries} entries"
    try:
        with store.transaction() as tx:
            for i in range(n_entries):
                tx.insert(
                    "audit_entries",
                    {
                        "entry_id": f"E{i:06d}",
                        "agent": f"agent{i % 4}",
                        "task_id": f"T{i % 50}",
                        "model": ("opus", "sonnet", "flash")[i % 3],
                        "status": ("success", "success", "failed", "timeout", "error")[i % 5],
                        "duration_seconds": float(i % 60),
                        "cost_usd": 0.01 * (i % 7),
                        "timestamp": f"2026-11-01T00:00:00.{i:06d}Z",
                    },
                    id=f"E{i:06d}",
                )
        stats = benchmark.pedantic(store.audit.get_statistics, rounds=rounds, iterations=1)
        assert stats.total == n_entries and stats.success_count == 2 * n_entries // 5
    finally:
        store.close()
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {
            "backend": backend[0],
            "entries": n_entries,
            "entries_per_s": round(n_entries / median),
            "median_ms": round(median * 1000, 1),
        }
    )


_CHILD = """
import json, sys
import conductor_store as cs
store = cs.open(sys.argv[1], project="bench")
store.tasks.get_available_tasks()  # warm up: load the repositories and sqlglot before timing
store.count("tasks", "status = 'x' OR status = 'y'")
print("ready", flush=True)
sys.stdin.readline()
got = []
while True:
    task = store.tasks.claim_next(sys.argv[2])
    if task is None:
        break
    got.append(task.task_id)
store.close()
print(json.dumps(got), flush=True)
"""


def test_claim_next_processes(benchmark, tmp_path_factory, request):
    """JSON files: 4 worker processes claiming until every task is claimed (the timing starts
    when all 4 are ready, so process start-up is not counted)."""
    n_tasks, _, rounds = _counts(request.config)
    benchmark.group = "claim_next x4 processes"
    state: dict = {}

    def setup():
        url = f"json://{tmp_path_factory.mktemp('claimproc')}/data"
        with cs.open(url, project="bench") as store:
            store.tasks.bulk_create(
                [{"task_id": f"T{i:04d}", "title": "t"} for i in range(n_tasks)]
            )
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, url, f"w{k}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for k in range(4)
        ]
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        state["procs"] = procs
        return (), {}

    def release_and_wait():
        for proc in state["procs"]:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        claimed = []
        for proc in state["procs"]:
            claimed += json.loads(proc.stdout.readline())
            proc.wait(timeout=300)
        assert sorted(claimed) == [f"T{i:04d}" for i in range(n_tasks)]

    benchmark.pedantic(release_and_wait, setup=setup, rounds=rounds, iterations=1)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {"backend": "json", "workers": "4 processes", "claims_per_s": round(n_tasks / median)}
    )
