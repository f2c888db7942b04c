"""The command line, through click's runner (API behaviour is tested in tests/conformance)."""

import json

from click.testing import CliRunner

import conductor_store
from conductor_store.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_version_prints_the_package_version():
    result = run("--version")
    assert result.exit_code == 0
    assert conductor_store.__version__ in result.output


def test_demo_json_reports_what_it_stored(tmp_path):
    result = run("demo", "--url", f"json://{tmp_path}/data", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["info"]["backend"] == "json"
    tasks = {t["id"]: t for t in report["tables"]["tasks"]}
    assert set(tasks) == {"T1", "T2", "T3"}
    assert all(t["status"] == "done" for t in tasks.values())
    assert tasks["T1"]["attempts"] == 2  # failed once, retried
    assert len(report["tables"]["audit_entries"]) == 4
    assert report["pending_or_failed"] == 0
    assert report["commits"] < report["changes"]  # transactions group several changes


def test_demo_twice_starts_from_the_same_state(tmp_path):
    url = f"json://{tmp_path}/data"
    first = json.loads(run("demo", "--url", url, "--json").output)
    second = json.loads(run("demo", "--url", url, "--json").output)
    assert [t["id"] for t in second["tables"]["tasks"]] == [
        t["id"] for t in first["tables"]["tasks"]
    ]
    assert [t["status"] for t in second["tables"]["tasks"]] == ["done"] * 3
    assert second["last_seq"] > first["last_seq"]


def test_demo_human_output_names_backend_and_tables(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--url", f"{tmp_path}/data"])
    assert result.exit_code == 0
    assert "json" in result.stdout and "tasks (3):" in result.stdout
    assert "Write parser" in result.stdout
    assert "planned 3 tasks" in result.stderr  # progress goes to stderr


def test_demo_with_unknown_scheme_is_a_clear_error():
    result = CliRunner().invoke(main, ["demo", "--url", "nosuch://x"])
    assert result.exit_code != 0
    assert "unknown URL scheme 'nosuch'" in result.output
    assert "json://" in result.output
