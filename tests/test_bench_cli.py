"""``conductor-store bench``: the shape of its report, its exit codes and its output (never
its speed)."""

import json
import numbers

import pytest
from click.testing import CliRunner

from conductor_store import bench
from conductor_store.bench.docs import replace_blocks
from conductor_store.cli import main

OPS = {"get", "find", "count", "update", "insert", "tx500"}
QUERIES = {"find_eq", "count_eq", "find_few", "top_asc", "top_desc"}
STATUSES = {"reached", "NOT reached", "not measured", "not checked"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-dir")


@pytest.fixture(scope="module")
def quick(tmp_path_factory, run_dir):
    """One quick run on one JSON URL, its temporary stores in ``run_dir``: (url, result,
    report)."""
    url = f"json://{tmp_path_factory.mktemp('bench')}/store"
    args = ["bench", "--quick", "--json", "--records", "50", "--url", url, "--dir", str(run_dir)]
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return url, result, json.loads(result.stdout)  # --json: nothing but the report on stdout


def test_dir_holds_the_run_and_is_left_as_it_was(quick, run_dir):
    _, _, report = quick
    disk = report["machine"]["disk"]
    assert disk["path"].startswith(str(run_dir) + "/conductor-bench-")
    assert disk["filesystem"] and disk["file_create_us"] > 0 and disk["file_create_kernel_us"] >= 0
    assert list(run_dir.iterdir()) == []  # the run's folder is gone, nothing else was made


def test_a_dir_that_cannot_hold_the_run_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["bench", "--quick", "--dir", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert "--dir" in line and "missing" in line


def test_quick_json_reports_every_comparison(quick):
    url, _, report = quick
    assert {"machine", "settings", "targets", "comparisons", "scaling", "storage", "checks"} <= set(
        report
    )
    assert report["settings"]["records"] == 50
    assert [t["name"] for t in report["targets"]] == [url]  # --url replaces the built-ins
    rows = {(c["kind"], c["op"]): c for c in report["comparisons"] if c["target"] == url}
    assert {op for kind, op in rows if kind == "op"} == OPS
    assert {op for kind, op in rows if kind == "query"} == QUERIES
    for (kind, op), row in rows.items():
        assert not row["errors"], (kind, op, row["errors"])
        assert isinstance(row["store"], numbers.Real) and row["store"] > 0, (kind, op)
        for ref in row["refs"]:
            assert isinstance(ref["ratio"], numbers.Real) and ref["ratio"] > 0, (kind, op, ref)
    insert_refs = {r["name"]: r for r in rows[("op", "insert")]["refs"]}
    assert insert_refs["raw"]["label"] == "write+fsync+rename"
    assert {"sqlite", "fsync100"} <= set(insert_refs)
    assert {r["name"] for r in rows[("query", "find_eq")]["refs"]} == {"sqlite", "sqlite-idx"}
    assert rows[("changes", "changes")]["store"] > 0
    assert rows[("first-find", "first-find")]["refs"][0]["name"] == "sqlite-idx"


def test_quick_measures_writers_for_a_time_and_keeps_every_write(quick):
    url, _, report = quick
    conc = [c for c in report["comparisons"] if c["kind"] == "concurrency"]
    assert [(c["op"], c["procs"]) for c in conc] == [
        ("insert", 1),
        ("insert", 4),
        ("insert threads", 1),
    ]
    for c in conc:
        assert c["extra"]["seconds"] == report["settings"]["writer_seconds"] > 0
        assert c["verified"] and all(c["verified"].values()), c["verified"]
        assert c["store"] > 0
    assert [{r["name"] for r in c["refs"]} for c in conc] == [{"sqlite", "lock", "own"}] * 2 + [
        set()
    ]
    (storage,) = report["storage"]
    assert storage["updates"] == 50 and storage["live_bytes"] > 0 and storage["log_bytes"] > 0
    assert storage["log_files"] >= 1 and storage["disk_bytes"] > storage["log_bytes"]
    ms = [storage[k] for k in ("p50_commit_ms", "p99_commit_ms", "p999_commit_ms", "max_commit_ms")]
    assert 0 < ms[0] <= ms[1] <= ms[2] <= ms[3]
    assert storage["slow_commits"] == 0 or ms[3] > storage["slow_ms"]
    (memory,) = [c for c in report["comparisons"] if c["kind"] == "memory"]
    assert memory["records"] == 50 and not memory["errors"], memory["errors"]
    assert memory["store"] >= 0 and memory["refs"][0]["value"] >= 0


def test_exit_code_says_whether_every_check_was_reached(quick):
    url, result, report = quick
    checks = report["checks"]
    assert {c["status"] for c in checks} <= STATUSES
    missed = [c["name"] for c in checks if c["status"] == "NOT reached"]
    assert result.exit_code == (3 if missed else 0), result.stderr
    for name in missed:
        assert name in result.stderr
    by_name = {c["name"]: c for c in checks}
    # figures defined at 100,000 records are not checked in a quick run, and say why
    big = by_name[f"{url}: indexed find 100k"]
    assert big["status"] == "not checked" and "--full" in big["detail"]
    assert by_name[f"{url}: repeated find"]["status"] == "not checked"
    for name in ("commit vs fsync", "get vs file read", "4 writers vs 1", "1 writer vs sqlite"):
        c = by_name[f"{url}: {name}"]
        assert c["status"] in ("reached", "NOT reached") and isinstance(c["measured"], float)


def test_text_report_from_saved_json_fits_100_columns(quick, tmp_path):
    url, _, report = quick
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report))
    result = CliRunner().invoke(main, ["bench", "--from-json", str(saved)])
    assert result.exit_code in (0, 3), result.output
    lines = result.stdout.splitlines()
    assert any("insert (one commit)" in line for line in lines)
    assert "Checks (" in result.stdout
    too_wide = [line for line in lines if len(line) > 100]
    assert not too_wide, too_wide


def test_write_docs_replaces_only_the_generated_blocks(quick, tmp_path):
    _, _, report = quick
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report))
    page = tmp_path / "benchmarks.md"
    prose = "# Benchmarks\n\nHand-written method text.\n"
    page.write_text(
        prose + "\n<!-- bench:results -->\nold table\n<!-- /bench:results -->\n\nEnd.\n"
    )
    args = ["bench", "--from-json", str(saved), "--write-docs", str(page), "--note", "a note"]
    CliRunner().invoke(main, args)
    text = page.read_text()
    assert text.startswith(prose) and "End." in text and "old table" not in text
    assert "| backend | operation |" in text and "<!-- /bench:results -->" in text
    for block in ("machine", "checks", "notes"):  # missing blocks are appended
        assert f"<!-- bench:{block} -->" in text
    assert "- a note" in text
    again = replace_blocks(text, {"results": "new"})
    assert "Hand-written method text." in again and "<!-- bench:results -->\nnew\n" in again


def test_bad_url_is_one_line_and_a_failure():
    result = CliRunner().invoke(main, ["bench", "--quick", "--url", "foo://x"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert "foo://x" in line and "unknown URL scheme" in line


def test_unreadable_report_is_one_line(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(main, ["bench", "--from-json", str(bad)])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1


def test_bench_never_shows_a_password():
    target = bench.target_from_url("ws://root:s3cret@127.0.0.1:8000")
    assert "s3cret" not in target.name and "s3cret" not in target.shown_url
    text = "could not reach ws://root:s3cret@127.0.0.1:8000"
    assert "s3cret" not in bench.scrub(text, ["ws://root:s3cret@127.0.0.1:8000"])
