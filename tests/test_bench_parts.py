"""Parts of ``conductor-store bench`` whose definitions the figures rest on (never speed)."""

from __future__ import annotations

import os

import pytest

from conductor_store.bench.checks import evaluate_checks
from conductor_store.bench.data import FEW, FEW_COUNT, RARE, expected_eq, expected_matches
from conductor_store.bench.engines import StoreEngine
from conductor_store.bench.measure.history import StorageGrowth, disk_usage, percentile
from conductor_store.bench.measure.scaling import ScalingRun
from conductor_store.bench.results import Comparison, Report, Storage
from conductor_store.bench.settings import BIG
from conductor_store.bench.targets import builtin_targets
from conductor_store.bench.timing import whole_prune_periods
from conductor_store.retention import PRUNE_EVERY_COMMITS

JSON = builtin_targets()[1]  # json-nosync: no fsync, quick


def test_the_fixed_query_returns_the_same_records_at_every_size():
    assert expected_eq(2000, FEW) == expected_eq(BIG, FEW) == FEW_COUNT
    assert expected_eq(2000, RARE) == 20 and expected_eq(BIG, RARE) == BIG // 100
    assert expected_matches(BIG) == 10_000  # the 10% filter is untouched by the fixed query


def _query(op: str, records: int, rate: float) -> Comparison:
    return Comparison("query", "json", "json", op, op, records, "queries/s", store=rate)


def test_flat_find_compares_the_fixed_size_query_not_the_1_percent_one():
    report = Report({}, {"records": 2000, "query_sizes": [2000, BIG], "scales": [1000]})
    report.targets = [builtin_targets()[0].info()]
    report.comparisons = [
        _query("find_eq", 2000, 20_000.0),
        _query("find_eq", BIG, 500.0),  # 50× the rows: 40× the cost, not what the check asks
        _query("find_few", 2000, 20_000.0),
        _query("find_few", BIG, 16_000.0),
    ]
    (flat,) = [c for c in evaluate_checks(report) if c.name == "json: indexed find flat"]
    assert flat.status == "reached" and flat.measured == pytest.approx(1.25)
    assert f"same {FEW_COUNT} records" in flat.detail


def test_rounds_of_commits_cover_whole_prune_periods():
    assert whole_prune_periods(1, 0.001) == (PRUNE_EVERY_COMMITS, pytest.approx(1.0))
    assert whole_prune_periods(PRUNE_EVERY_COMMITS, 0.3)[0] == PRUNE_EVERY_COMMITS
    assert whole_prune_periods(PRUNE_EVERY_COMMITS + 1, 0.3)[0] == 2 * PRUNE_EVERY_COMMITS


def test_scaling_write_rounds_are_whole_prune_periods(tmp_path):
    eng = StoreEngine(f"json://{tmp_path}/s", "p", {"durable": False})
    eng.setup(20)
    try:
        run = ScalingRun(
            target=JSON,
            op="update",
            scales=(20,),
            rounds=1,
            min_round=0.001,
            engine_at=lambda _: eng,
            prune_periods=True,
        )
        run.prepare()
        assert run.n[20] % PRUNE_EVERY_COMMITS == 0 and not run.errors
    finally:
        eng.close()


def test_percentiles_are_nearest_rank():
    ms = [float(x) for x in range(1, 1001)]
    assert [percentile(ms, q) for q in (0.5, 0.99, 0.999)] == [500.0, 990.0, 999.0]
    assert percentile([7.0], 0.999) == 7.0


def test_storage_counts_every_file_of_the_log_whatever_its_name(tmp_path):
    eng = StoreEngine(f"json://{tmp_path}/s", "p", {"durable": False})
    eng.setup(30)
    try:
        m = StorageGrowth(target=JSON, records=30, engine=eng)
        m.store_round()
        s = m.result()
        assert not s.errors and s.updates == 30 and s.slow_commits == 0
        assert s.p50_commit_ms <= s.p99_commit_ms <= s.p999_commit_ms <= s.max_commit_ms
        log_dir = tmp_path / "s" / "p" / ".meta" / "log"
        table = tmp_path / "s" / "p" / "bench"
        live = sum(f.stat().st_size for f in table.iterdir())
        assert s.live_bytes == live and s.log_files == len(os.listdir(log_dir))
        (log_dir / "00000000000000000001.jsonl.zst").write_bytes(b"z" * 1234)  # a closed segment
        (log_dir / "old").mkdir()
        (log_dir / "old" / "2.gz").write_bytes(b"g" * 100)
        total, live2, log, files = disk_usage(eng) or (0, 0, 0, 0)
        assert (live2, log, files) == (live, s.log_bytes + 1334, s.log_files + 2)
        assert total == s.disk_bytes + 1334
    finally:
        eng.close()


def test_slow_commits_are_counted_beside_the_slowest():
    s = Storage("json", "json", BIG, 4, p50_commit_ms=1.0, max_commit_ms=300.0, slow_commits=3)
    report = Report({}, {"records": 2000, "query_sizes": [2000, BIG], "scales": [1000]})
    report.targets = [builtin_targets()[0].info()]
    report.storage = [s]
    (check,) = [c for c in evaluate_checks(report) if c.name == "json: slowest commit"]
    assert check.status == "NOT reached" and check.measured == 300.0
    assert "3 over 50 ms" in check.detail and "p50 1.00" in check.detail
