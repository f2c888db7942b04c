"""The command line as users run it: real processes, real signals (SIGINT, SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import conductor_store as cs
from conductor_store.migrate.journal import run_name

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, script=None, input=None, timeout=120):
    cmd = [sys.executable, str(ROOT / script)] if script else [sys.executable, "-m",
                                                                "conductor_store"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CONDUCTOR_STORE_URL", None)
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, input=input, timeout=timeout, env=env,
        cwd=ROOT,
    )  # fmt: skip


def assert_one_line_error(proc, needle=""):
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture
def url(tmp_path):
    url = f"json://{tmp_path}/data"
    with cs.open(url, project="p") as store, store.transaction() as tx:
        for i in range(5):
            tx.insert("tasks", {"n": i, "status": "done" if i % 2 else "pending"}, id=f"T{i}")
    return url


def test_every_read_command_in_a_real_process(url, tmp_path):
    status = json.loads(cli("status", "--url", url, "--json").stdout)
    assert status["reachable"] and status["backend"] == "json"
    got = json.loads(cli("get", "tasks", "T1", "--url", url, "--project", "p", "--json").stdout)
    assert got["n"] == 1
    found = cli("find", "tasks", "status = 'done'", "--url", url, "--project", "p", "--nl")
    assert [json.loads(line)["id"] for line in found.stdout.splitlines()] == ["T1", "T3"]
    csv_out = cli("find", "tasks", "--url", url, "--project", "p", "--csv", "--limit", "2")
    assert csv_out.stdout.splitlines()[0] == "id,_version,n,status"
    (inspected,) = json.loads(cli("inspect", url, "--json").stdout)
    assert inspected["tables"] == {"tasks": 5}
    assert json.loads(cli("doctor", url, "--json").stdout)["problems"] == 0


def test_export_import_and_migrate_in_real_processes(url, tmp_path):
    exported = cli("export", "--url", url, "--project", "p")
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 6
    imported = cli("import", "--url", url, "--project", "q", "--json", input=exported.stdout)
    assert json.loads(imported.stdout)["written"] == 5
    migrated = cli("migrate", "--from", url, "--to", f"surrealkv://{tmp_path}/kv", "--project",
                   "p", "--verify", "--json", "--state-dir", str(tmp_path / "s"))  # fmt: skip
    report = json.loads(migrated.stdout)
    assert report["written"] == 5 and all(c["match"] for c in report["verify"])
    every = cli("migrate-all", "--projects-dir", str(tmp_path / "data"), "--to",
                f"json://{tmp_path}/all", "--json", "--state-dir", str(tmp_path / "s"))  # fmt: skip
    assert [r["project"] for r in json.loads(every.stdout)] == ["p", "q"]


def test_demo_in_a_real_process_refuses_foreign_data(url):
    assert_one_line_error(cli("demo", "--url", url, "--project", "p"), "did not write")
    from tests.test_cli_records import check_demo

    for target in (url, url, "mem://", "mem://"):  # twice in a row on each
        proc = cli("demo", "--url", target, "--json")
        assert proc.returncode == 0, proc.stderr
        demo = json.loads(proc.stdout)
        assert demo["info"]["project"] == "demo"
        check_demo(demo)


def test_stats_init_schema_and_db_cli_script_in_real_processes(url, tmp_path):
    from tests.test_cli_records import build_records, check_stats, spec

    build_records(url, project="r")
    stats = cli("stats", "--url", url, "--project", "r", "--json")
    assert stats.returncode == 0, stats.stderr
    check_stats(json.loads(stats.stdout))
    schema = cli("init-schema", "--url", url, "--project", "r", "--json")
    assert schema.returncode == 0, schema.stderr
    report = json.loads(schema.stdout)
    with cs.open(url, project="r") as store:
        assert report["new"] == report["indexes"] == [spec(s) for s in store.indexes()]
    status = cli("status", "--url", url, script="scripts/db-cli.py")
    assert status.returncode == 0 and "reachable" in status.stdout
    counted = cli("query", "-p", "p", "SELECT COUNT(*) AS n FROM tasks", "--url", url,
                  script="scripts/db-cli.py")  # fmt: skip
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout)[0]["n"] == 5
    seed_stats = cli("stats", "-p", "r", "--url", url, script="scripts/db-cli.py")
    assert seed_stats.returncode == 0, seed_stats.stderr
    assert "phase 3, completed phases 2/5, iterations 2, mode afk" in seed_stats.stdout
    assert "success rate 40.0%" in seed_stats.stdout
    again = cli("init-schema", "-p", "r", "--url", url, script="scripts/db-cli.py")
    assert again.returncode == 0, again.stderr
    assert ", 0 new; the backend keeps " in again.stdout.splitlines()[0]


def test_errors_are_one_line_in_a_real_process(url, tmp_path):
    assert_one_line_error(cli("find", "tasks", "--url", "nosuch://x"), "unknown URL scheme")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = cli("find", "tasks", "--url", f"ws://root:T0pSecretPw@127.0.0.1:{port}")
    assert_one_line_error(proc)
    assert "T0pSecretPw" not in proc.stdout + proc.stderr
    (tmp_path / "data" / "p" / "tasks" / "T3.json").write_bytes(b"\x00\xffgarbage")
    assert_one_line_error(cli("find", "tasks", "--url", url, "--project", "p"), "T3.json")
    assert cli("doctor", url).returncode == 1
    (tmp_path / "data" / "p" / ".meta" / "log").chmod(0o000)
    try:
        proc = cli("find", "tasks", "--url", url, "--project", "p")
        if os.geteuid() != 0:  # root reads through the permission bits
            assert_one_line_error(proc)
        assert "Traceback" not in proc.stderr
    finally:
        (tmp_path / "data" / "p" / ".meta" / "log").chmod(0o700)


# -- signals during a migration -----------------------------------------------------------
N = 6000


@pytest.fixture
def big_source(tmp_path):
    url = f"json://{tmp_path}/big"
    with cs.open(url, project="p", durable=False) as store, store.transaction() as tx:
        for i in range(N):
            tx.insert("tasks", {"n": i, "pad": "x" * 40}, id=f"T{i:05d}")
    return url


def start_migration(src, dst, state_dir, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "conductor_store", "migrate", "--from", src, "--to", dst,
         "--project", "p", "--batch-size", "5", "--state-dir", state_dir, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip


def wait_for_progress(state_file: Path, proc, minimum=50, timeout=60.0) -> int:
    """Poll the run's state file until it has committed ``minimum`` records."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            written = json.loads(state_file.read_text())["written"]
        except (FileNotFoundError, ValueError):
            written = 0
        if written >= minimum:
            return written
        time.sleep(0.005)
    raise AssertionError("the migration made no progress")


def test_ctrl_c_during_a_migration_leaves_the_target_unchanged(big_source, tmp_path):
    dst, state_dir = f"json://{tmp_path}/dst", str(tmp_path / "state")
    with cs.open(dst, project="p") as target:
        target.put("tasks", "T00003", {"theirs": True})  # one record the run will overwrite
    proc = start_migration(big_source, dst, state_dir, "--merge")
    state_file = Path(state_dir) / (run_name(big_source, dst, "p") + ".json")
    wait_for_progress(state_file, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "the target is as it was" in err and "Traceback" not in err
    with cs.open(dst, project="p") as target:
        assert target.tables() == ["tasks"] and target.count("tasks") == 1
        assert target.get("tasks", "T00003")["theirs"] is True
    assert not state_file.exists()


def test_resume_after_kill_9_completes_the_copy(big_source, tmp_path):
    dst, state_dir = f"json://{tmp_path}/dst", str(tmp_path / "state")
    proc = start_migration(big_source, dst, state_dir)
    state_file = Path(state_dir) / (run_name(big_source, dst, "p") + ".json")
    wait_for_progress(state_file, proc)
    proc.kill()
    proc.communicate(timeout=60)
    with cs.open(dst, project="p") as target:
        partial = target.count("tasks")
    assert 0 < partial < N
    again = cli("migrate", "--from", big_source, "--to", dst, "--project", "p",
                "--state-dir", state_dir)  # fmt: skip
    assert_one_line_error(again, "--resume")
    resumed = cli("migrate", "--from", big_source, "--to", dst, "--project", "p", "--resume",
                  "--verify", "--json", "--state-dir", state_dir)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert all(c["match"] for c in report["verify"])
    assert report["written"] + report["unchanged"] == N
    with cs.open(dst, project="p") as target:
        assert target.count("tasks") == N
    assert not state_file.exists()
