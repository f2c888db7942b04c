"""``conductor-store bench``: the shape of its report (never its speed)."""

import importlib.util
import json
import numbers

from click.testing import CliRunner

from conductor_store import bench
from conductor_store.cli import main

OPS = {"get", "find", "count", "update", "insert", "tx500"}


def test_bench_quick_json_reports_every_comparison(tmp_path):
    url = f"json://{tmp_path}/store"
    result = CliRunner().invoke(
        main,
        ["bench", "--quick", "--json", "--records", "50", "--url", url],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # --json: nothing but the report on stdout

    assert {
        "machine",
        "settings",
        "targets",
        "results",
        "startup",
        "concurrency",
        "scaling",
        "checks",
    } <= set(report)
    assert report["settings"]["records"] == 50
    assert [t["name"] for t in report["targets"]] == [url]  # --url replaces the built-ins

    rows = {r["op"]: r for r in report["results"]}
    assert set(rows) == OPS
    for op, row in rows.items():
        assert row["target"] == url and row["unit"], row
        assert not row["errors"], (op, row["errors"])
        for key in ("store", "raw", "ratio", "sqlite", "vs_sqlite"):
            assert isinstance(row[key], numbers.Real) and row[key] > 0, (op, key, row[key])
    assert rows["insert"]["raw_engine"] == "file: write+fsync+rename"
    optional = {"tinydb"} if importlib.util.find_spec("tinydb") else set()
    assert {"fsync100", *optional} <= set(rows["insert"]["refs"])
    assert "files500" in rows["tx500"]["refs"]
    for ref in [*rows["insert"]["refs"].values(), *rows["tx500"]["refs"].values()]:
        assert isinstance(ref["ratio"], numbers.Real)

    cold = next(r for r in report["startup"] if r["target"] == url)
    assert isinstance(cold["store_ms"], numbers.Real) and isinstance(cold["ratio"], numbers.Real)
    assert any(
        r["target"] == "cli" and isinstance(r["store_ms"], numbers.Real) for r in report["startup"]
    )
    assert [r["procs"] for r in report["concurrency"]] == [1, 2]
    assert all(r["verified"].get("store") for r in report["concurrency"])
    scaling = {r["op"]: r for r in report["scaling"]}
    assert set(scaling) == {"get", "find", "count", "update", "insert"}
    assert [c["records"] for c in scaling["get"]["costs"]] == [50, 500]
    assert all(isinstance(g["factor"], numbers.Real) for r in scaling.values() for g in r["growth"])

    names = {c["name"] for c in report["checks"]}
    for suffix in ("commit vs fsync", "tx500 vs small files", "get vs file read", "repeated find"):
        assert f"{url}: {suffix}" in names
    assert "cli: --help" in names
    for check in report["checks"]:
        assert check["reached"] in (True, False), check  # measured, whatever the verdict
        assert isinstance(check["measured"], numbers.Real)


def test_bench_never_shows_a_password():
    target = bench.target_from_url("ws://root:s3cret@127.0.0.1:8000")
    assert "s3cret" not in target.name and "s3cret" not in target.shown_url
    text = "could not reach ws://root:s3cret@127.0.0.1:8000"
    assert "s3cret" not in bench.scrub(text, ["ws://root:s3cret@127.0.0.1:8000"])
