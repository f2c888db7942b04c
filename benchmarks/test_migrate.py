"""Migration throughput (records/s): JSON files -> surrealkv:// and back.

``pytest benchmarks/test_migrate.py --benchmark-only`` moves 5,000 records per round;
``--bench-full`` moves 100,000 (the figure in docs/cli.md). ``extra_info["records_per_s"]`` is
the median round's rate; both directions run in the same session so their ratio is meaningful.
"""

from __future__ import annotations

import itertools
import shutil

import pytest

import conductor_store as cs
from conductor_store.migrate import migrate

_counter = itertools.count()


@pytest.fixture(scope="module")
def records(request) -> int:
    return 100_000 if request.config.getoption("--bench-full") else 5_000


@pytest.fixture(scope="module")
def sources(tmp_path_factory, records):
    """The same records in a JSON store and in a surrealkv store."""
    root = tmp_path_factory.mktemp("migrate-bench")
    json_url, kv_url = f"json://{root}/json", f"surrealkv://{root}/kv"
    with cs.open(json_url, project="p", durable=False) as store:
        for start in range(0, records, 5000):
            with store.transaction() as tx:
                for i in range(start, min(start + 5000, records)):
                    doc = {"title": f"task {i}", "status": "pending", "priority": i % 4,
                           "owner": f"agent-{i % 7}", "attempts": 0}  # fmt: skip
                    tx.insert("tasks", doc, id=f"T{i:07d}")
    migrate(json_url, kv_url, project="p", batch_size=2000, state_dir=str(root / "state"))
    return root, {"json": json_url, "surrealkv": kv_url}


@pytest.mark.parametrize("direction", ["json->surrealkv", "surrealkv->json"])
def test_migration_throughput(benchmark, sources, records, direction):
    root, urls = sources
    src_kind, dst_kind = direction.split("->")
    benchmark.group = f"migrate {records} records"

    done: list = []

    def setup():  # untimed: remove the last round's target, name a fresh one
        for old in done:
            shutil.rmtree(old, ignore_errors=True)
        n = next(_counter)
        target = root / f"t{n}"
        url = f"surrealkv://{target}" if dst_kind == "surrealkv" else f"json://{target}"
        return (url, target), {}

    def one_round(url, target):
        report = migrate(urls[src_kind], url, project="p", batch_size=1000,
                         state_dir=str(root / "state"))  # fmt: skip
        assert report["written"] == records
        done.append(target)

    rounds = 1 if records >= 100_000 else 3
    benchmark.pedantic(one_round, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
    rate = records / benchmark.stats.stats.median
    benchmark.extra_info["records_per_s"] = round(rate)
    print(f"\nmigrate {direction}: {records} records, {rate:,.0f} records/s (median)")
