"""Every backend (and every ``--bench-url``) against its raw engine and sqlite3.

The Store's rounds are what pytest-benchmark times; the raw engine's rounds run as each round's
setup, so both interleave on the same machine state. ``extra_info`` carries the comparison
(``ratio`` = Store rate / raw engine rate); the summary at the end prints it with the checks.
"""

from __future__ import annotations

KIND = {
    "test_operation": "results",
    "test_cold_start": "startup",
    "test_concurrent_writers": "concurrency",
    "test_scaling": "scaling",
}


def _measure(benchmark, session, kind, step):
    _, factory, label = step
    m = factory()
    benchmark.group = label.split(" at ")[0] if kind == "scaling" else label

    def runner(m):
        benchmark.pedantic(
            m.store_round,
            setup=m.reference_round,
            rounds=max(1, m.rounds),
            iterations=1,
            warmup_rounds=0,
        )

    result = session.execute(kind, m, runner)
    benchmark.extra_info.update(
        {k: v for k, v in result.items() if not isinstance(v, (dict, list))}
    )
    for name, ref in (result.get("refs") or {}).items():
        benchmark.extra_info[f"ratio_vs_{name}"] = ref["ratio"]
    errors = result.get("errors") or ({"store": result["error"]} if result.get("error") else {})
    if errors.get("store"):
        # reported in the summary as well; a backend that is missing or broken fails its rows
        raise AssertionError(f"{label}: {errors['store']}")
    return result


def test_operation(benchmark, bench_session, step):
    """single insert, get by id, update, find with a filter, count, 500-record transaction"""
    _measure(benchmark, bench_session, "results", step)


def test_cold_start(benchmark, bench_session, step):
    """new process: import conductor_store, open, first read"""
    _measure(benchmark, bench_session, "startup", step)


def test_concurrent_writers(benchmark, bench_session, step):
    """N processes inserting into one store (pytest-benchmark's time includes process start;
    extra_info ``store`` is inserts/s over the common interval)"""
    _measure(benchmark, bench_session, "concurrency", step)


def test_scaling(benchmark, bench_session, step):
    """per-operation cost at 1,000 / 10,000 (/ 100,000 with --bench-full) records"""
    _measure(benchmark, bench_session, "scaling", step)
