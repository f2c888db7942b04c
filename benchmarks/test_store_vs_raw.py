"""Every backend (and every ``--bench-url``) against its raw engine and sqlite3: the same plan,
workloads and checks as ``conductor-store bench``.

The Store's rounds are what pytest-benchmark times; the references' rounds run as each round's
setup, so both interleave on the same machine state. ``extra_info`` carries the comparison
(``ratio_vs_<ref>`` = Store speed / reference speed); the summary at the end prints the report
with the checks.
"""

from __future__ import annotations

from conductor_store.bench.results import Comparison

GROUP = {
    "test_operation": ("op",),
    "test_query": ("query", "history"),
    "test_start_up": ("startup",),
    "test_concurrent_writers": ("concurrency",),
    "test_scaling": ("scaling",),
}


def _measure(benchmark, session, step):
    benchmark.group = step.label.split(" at ")[0] if step.group == "scaling" else step.label

    def runner(m):
        benchmark.pedantic(
            m.store_round, setup=m.reference_round, rounds=max(1, m.rounds), iterations=1
        )

    result = session.execute(step, runner)
    if isinstance(result, Comparison):
        benchmark.extra_info["store"] = result.store
        benchmark.extra_info["unit"] = result.unit
        for ref in result.refs:
            benchmark.extra_info[f"ratio_vs_{ref.name}"] = ref.ratio
    if result.errors.get("store"):
        # reported in the summary as well; a backend that is missing or broken fails its rows
        raise AssertionError(f"{step.label}: {result.errors['store']}")
    return result


def test_operation(benchmark, bench_session, step):
    """single insert, get by id, update, find with a filter, count, 500-record transaction"""
    _measure(benchmark, bench_session, step)


def test_query(benchmark, bench_session, step):
    """indexed equality find and count, ORDER BY ... LIMIT 10, recent changes, first find
    after open, storage after updates"""
    _measure(benchmark, bench_session, step)


def test_start_up(benchmark, bench_session, step):
    """new process: import conductor_store, open, first read; and ``--help``"""
    _measure(benchmark, bench_session, step)


def test_concurrent_writers(benchmark, bench_session, step):
    """N processes inserting into one store for seconds (pytest-benchmark's time includes
    process start; extra_info ``store`` is commits/s over the common interval)"""
    _measure(benchmark, bench_session, step)


def test_scaling(benchmark, bench_session, step):
    """per-operation cost at 1,000 / 10,000 (/ 100,000 with --bench-full) records"""
    _measure(benchmark, bench_session, step)
