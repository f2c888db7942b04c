"""Every command through click's runner: output formats parsed back, errors as one line."""

from __future__ import annotations

import csv
import io
import json
import socket

import pytest
from click.testing import CliRunner

import conductor_store as cs
from conductor_store.cli import COMMANDS, main
from conductor_store.cli.dbcli import main as dbcli
from conductor_store.cli.output import Progress


def run(*args, input=None, env=None):
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def one_line_error(result, *needles):
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def url(tmp_path):
    url = f"json://{tmp_path}/data"
    with cs.open(url, project="p") as store:
        with store.transaction() as tx:
            tx.insert("tasks", {"title": "Write parser", "status": "done", "attempts": 2}, id="T1")
            tx.insert("tasks", {"title": "Add, CLI", "status": "pending", "attempts": 0}, id="T2")
            tx.insert("tasks", {"title": "Docs", "status": "done", "attempts": 1,
                                "meta": {"model": "opus"}}, id="T3")  # fmt: skip
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_lists_every_command():
    result = run("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
    for name in COMMANDS:
        assert run(name, "--help").exit_code == 0


# -- status -------------------------------------------------------------------------------
def test_status_json_reports_backend_location_versions_env(url, tmp_path):
    result = run("status", "--url", url, "--json", env={"SURREAL_PASS": "hunter2-secret"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["reachable"] is True and report["backend"] == "json"
    assert report["location"] == f"{tmp_path}/data"
    assert report["versions"]["conductor-store"] == cs.__version__
    assert report["environment"]["SURREAL_PASS"] == "***"
    assert "hunter2-secret" not in result.output


def test_status_of_an_unreachable_server_says_why_and_hides_the_password():
    port = free_port()  # nothing listens there
    result = run("status", "--url", f"ws://root:Sup3rS3cret@127.0.0.1:{port}", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["reachable"] is False and report["reason"]
    assert "Sup3rS3cret" not in result.output + result.stderr
    assert report["url"] == f"ws://root:***@127.0.0.1:{port}"
    text = run("status", "--url", f"ws://root:Sup3rS3cret@127.0.0.1:{port}")
    assert "NOT reachable" in text.stdout and "Sup3rS3cret" not in text.output


def test_bad_credentials_are_one_line_without_the_password(tmp_path):
    from tests.support import LoopbackServer

    with LoopbackServer(password="right-pass") as server:
        bad = f"ws://root:Wr0ngPassw0rd@127.0.0.1:{server.port}"
        result = run("find", "tasks", "--url", bad)
        line = one_line_error(result)
        assert "Wr0ngPassw0rd" not in line and "right-pass" not in line
        status = json.loads(run("status", "--url", bad, "--json").stdout)
        assert status["reachable"] is False and "Wr0ngPassw0rd" not in json.dumps(status)
        good = f"ws://root:right-pass@127.0.0.1:{server.port}"
        status = json.loads(run("status", "--url", good, "--json").stdout)
        assert status["reachable"] is True and status["backend"] == "surrealdb-ws"
        assert status["versions"]["server"].startswith("surrealdb")  # asked over the RPC
        assert "right-pass" not in json.dumps(status)


def test_bad_url_is_one_clear_line():
    one_line_error(run("find", "tasks", "--url", "nosuch://x"), "unknown URL scheme 'nosuch'")
    one_line_error(run("get", "tasks", "T1", "--url", "mem://x", "--project", "no/slash"),
                   "invalid project")  # fmt: skip


def test_unreachable_server_is_one_line_for_data_commands():
    one_line_error(run("find", "tasks", "--url", f"ws://127.0.0.1:{free_port()}"))


# -- get / find ---------------------------------------------------------------------------
def test_get_prints_a_record_and_fails_for_a_missing_one(url):
    result = run("get", "tasks", "T1", "--url", url, "--project", "p", "--json")
    assert json.loads(result.stdout)["title"] == "Write parser"
    text = run("get", "tasks", "T1", "--url", url, "--project", "p").stdout
    assert "title     Write parser" in text
    one_line_error(run("get", "tasks", "T9", "--url", url, "--project", "p"), "tasks:T9")


@pytest.mark.parametrize("fmt", ["--json", "--nl", "--csv", None])
def test_find_in_every_format_parses_back(url, fmt):
    args = ["find", "tasks", "status = 'done'", "--url", url, "--project", "p",
            "--order-by", "-attempts", "--limit", "5"]  # fmt: skip
    result = run(*args, *([fmt] if fmt else []))
    assert result.exit_code == 0, result.output
    if fmt == "--json":
        rows = json.loads(result.stdout)
        assert [r["id"] for r in rows] == ["T1", "T3"]
        assert rows[1]["meta"] == {"model": "opus"}
    elif fmt == "--nl":
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["id"] for r in rows] == ["T1", "T3"]
    elif fmt == "--csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert [r["id"] for r in rows] == ["T1", "T3"]
        assert json.loads(rows[1]["meta"]) == {"model": "opus"}
    else:
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["id", "_version", "title", "status", "attempts", "meta"]
        assert lines[2].startswith("T1") and lines[3].startswith("T3")
        assert len({line.index("done") for line in lines[2:]}) == 1  # aligned columns


def test_find_with_a_bad_where_is_one_line(url):
    one_line_error(run("find", "tasks", "status ==== 1", "--url", url, "--project", "p"))


def test_csv_quotes_commas(url):
    rows = list(csv.DictReader(io.StringIO(
        run("find", "tasks", "--url", url, "--project", "p", "--csv").stdout)))  # fmt: skip
    assert rows[1]["title"] == "Add, CLI"


# -- export / import ----------------------------------------------------------------------
def test_export_import_round_trip(url, tmp_path):
    out = tmp_path / "p.jsonl"
    assert run("export", "--url", url, "--project", "p", "-o", str(out)).exit_code == 0
    lines = out.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "conductor-store-export" and header["version"] == 1
    assert header["tables"] == {"tasks": 3} and header["position"] == 1
    assert [json.loads(line)["id"] for line in lines[1:]] == ["T1", "T2", "T3"]
    result = run("import", "--url", url, "--project", "copy", "--batch-size", "2", str(out),
                 "--json")  # fmt: skip
    assert json.loads(result.stdout)["written"] == 3
    with cs.open(url, project="copy") as store:
        assert store.get("tasks", "T3")["meta"] == {"model": "opus"}
        assert store.changes()[-1].seq == 2  # batch size 2: two transactions
    refused = run("import", "--url", url, "--project", "copy", str(out))
    one_line_error(refused, "not empty", "--merge")
    merged = run("import", "--url", url, "--project", "copy", "--merge", str(out), "--json")
    assert json.loads(merged.stdout)["unchanged"] == 3


def test_export_json_and_csv_formats_parse_back(url):
    doc = json.loads(run("export", "--url", url, "--project", "p", "--json").stdout)
    assert doc["header"]["tables"] == {"tasks": 3} and len(doc["records"]) == 3
    rows = list(csv.DictReader(io.StringIO(
        run("export", "--url", url, "--project", "p", "--csv").stdout)))  # fmt: skip
    assert [r["id"] for r in rows] == ["T1", "T2", "T3"]
    assert json.loads(rows[0]["doc"])["title"] == "Write parser"


def test_import_from_stdin_and_a_bad_file(url):
    text = run("export", "--url", url, "--project", "p").stdout
    assert run("import", "--url", url, "--project", "q", input=text).exit_code == 0
    one_line_error(run("import", "--url", url, "--project", "r", input="not json\n"), "header")
    broken = text.splitlines()[0] + '\n{"table": "tasks"}\n'
    one_line_error(run("import", "--url", url, "--project", "r", input=broken), "line 2")
    with cs.open(url, project="r") as store:
        assert store.tables() == []  # nothing of the bad file was written


# -- inspect / doctor ---------------------------------------------------------------------
def corrupt(tmp_path):
    (tmp_path / "data" / "p" / "tasks" / "T2.json").write_text('{"id": "T2", "_ver')
    (tmp_path / "data" / "p" / "tasks" / "notes.txt").write_text("not a record")


def test_inspect_a_json_root(url, tmp_path):
    corrupt(tmp_path)
    reports = json.loads(run("inspect", str(tmp_path / "data"), "--json").stdout)
    (rep,) = reports
    assert rep["project"] == "p" and rep["tables"] == {"tasks": 2} and rep["last_seq"] == 1
    assert rep["bytes"] > 0
    kinds = {f["kind"] for f in rep["findings"]}
    assert {"corrupt", "stray"} <= kinds
    text = run("inspect", url).stdout
    assert "Project p" in text and "! corrupt" in text and "T2.json" in text


def test_inspect_a_store_url(tmp_path):
    url = f"surrealkv://{tmp_path}/kv"
    with cs.open(url, project="p") as store:
        store.insert("tasks", {"a": 1}, id="x")
        store.insert("notes", {"a": 1}, id="y")
    (rep,) = json.loads(run("inspect", url, "--project", "p", "--json").stdout)
    assert rep["tables"] == {"notes": 1, "tasks": 1} and rep["last_seq"] == 2


def test_a_corrupt_record_is_one_line_naming_the_file(url, tmp_path):
    corrupt(tmp_path)
    one_line_error(run("find", "tasks", "--url", url, "--project", "p"), "T2.json")


def test_doctor_finds_and_repairs_a_corrupt_record(url, tmp_path):
    corrupt(tmp_path)
    found = run("doctor", url, "--json")
    assert found.exit_code == 1
    assert json.loads(found.stdout)["problems"] == 1
    fixed = run("doctor", url, "--repair")
    assert fixed.exit_code == 0, fixed.output
    quarantined = tmp_path / "data" / "p" / ".quarantine" / "tasks" / "T2.json"
    assert quarantined.read_text() == '{"id": "T2", "_ver'  # moved, never deleted
    assert str(quarantined) in fixed.stdout and "restored tasks:T2" in fixed.stdout
    rows = json.loads(run("find", "tasks", "--url", url, "--project", "p", "--json").stdout)
    assert [r["id"] for r in rows] == ["T1", "T2", "T3"]  # T2 back at its last committed version
    assert run("doctor", url).exit_code == 0


def test_doctor_refuses_what_it_cannot_check():
    one_line_error(run("doctor", "mem://x"), "JSON")


def test_store_quarantine_is_a_clear_error_where_unsupported():
    with cs.open("mem://", project="p") as store:
        store.insert("tasks", {}, id="a")
        with pytest.raises(cs.StoreError, match="not supported"):
            store.quarantine("tasks", "a")


# -- migrate ------------------------------------------------------------------------------
def test_migrate_dry_run_then_real_then_verify(url, tmp_path):
    dst = f"surrealkv://{tmp_path}/kv"
    common = ["--from", url, "--to", dst, "--project", "p", "--state-dir", str(tmp_path / "s")]
    dry = json.loads(run("migrate", *common, "--dry-run", "--json").stdout)
    assert dry["dry_run"] and dry["tables"][0]["records"] == 3
    result = run("migrate", *common, "--verify", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "3 written" in result.stdout and "ok" in result.stdout
    again = run("migrate", *common)
    one_line_error(again, "not empty", "--merge")
    merged = json.loads(run("migrate", *common, "--merge", "--json").stdout)
    assert merged["unchanged"] == 3 and merged["written"] == 0


def test_migrate_all_projects_and_from_conductor(url, tmp_path):
    from tests.test_migrate import build_workflow

    dst = f"json://{tmp_path}/dst"
    state = ["--state-dir", str(tmp_path / "s")]
    reports = json.loads(run("migrate", "--from", url, "--to", dst, "--all", "--json",
                             *state).stdout)  # fmt: skip
    assert [r["project"] for r in reports] == ["p"]
    build_workflow(tmp_path / "conductor")
    res = run("migrate", "--from-conductor", str(tmp_path / "conductor"), "--to", dst,
              "--project", "c", "--json", *state)  # fmt: skip
    assert json.loads(res.stdout)["written"] > 5
    usage = run("migrate", "--to", dst)
    assert usage.exit_code == 2 and "--from" in usage.output
    one_line_error(run("migrate", "--from", "mem://x", "--to", dst, "--all", *state), "JSON")
    all_res = run("migrate-all", "--projects-dir", str(tmp_path), "--to", f"json://{tmp_path}/x",
                  "--json", *state)  # fmt: skip
    assert "conductor" in [r["project"] for r in json.loads(all_res.stdout)]


# -- query ------------------------------------------------------------------------------------
def test_query_prints_rows_in_every_format(url):
    sql = "SELECT status, COUNT(*) AS n, SUM(attempts) AS tries FROM tasks GROUP BY status"
    want = [{"status": "done", "n": 2, "tries": 3}, {"status": "pending", "n": 1, "tries": 0}]
    as_json = run("query", sql, "--url", url, "--project", "p", "--json")
    assert json.loads(as_json.stdout) == want
    nl = run("query", sql, "--url", url, "--project", "p", "--nl")
    assert [json.loads(line) for line in nl.stdout.splitlines()] == want
    as_csv = run("query", sql, "--url", url, "--project", "p", "--csv")
    assert list(csv.DictReader(io.StringIO(as_csv.stdout))) == [
        {k: str(v) for k, v in row.items()} for row in want
    ]
    table = run("query", sql, "--url", url, "--project", "p").stdout.splitlines()
    assert table[0].split() == ["status", "n", "tries"] and table[2].split() == ["done", "2", "3"]


def test_query_binds_parameters_and_refuses_writes(url):
    sql = "SELECT id FROM tasks WHERE attempts >= :a AND status = :s ORDER BY id"
    bound = run("query", sql, "-p", "a", "1", "-p", "s", "done", "--url", url, "--project", "p",
                "--json")  # fmt: skip
    assert json.loads(bound.stdout) == [{"id": "T1"}, {"id": "T3"}]
    one_line_error(run("query", "DELETE FROM tasks", "--url", url, "--project", "p"), "DELETE")
    with cs.open(url, project="p") as store:
        assert store.count("tasks") == 3


# -- db-cli (stats and init-schema: tests/test_cli_records.py) ------------------------------
def test_db_cli_query_takes_the_project_with_p(url):
    result = CliRunner().invoke(
        dbcli,
        ["query", "-p", "p", "SELECT COUNT(*) AS n FROM tasks", "--url", url],
        catch_exceptions=False,
    )
    assert result.exit_code == 0 and "3" in result.stdout


def test_db_cli_status_and_migrate(url, tmp_path):
    from tests.test_migrate import build_workflow

    status = CliRunner().invoke(dbcli, ["status", "--url", url])
    assert status.exit_code == 0 and "reachable" in status.stdout
    build_workflow(tmp_path / "proj")
    res = CliRunner().invoke(
        dbcli, ["migrate", "-p", "proj", "-d", str(tmp_path / "proj"), "--url", url, "--dry-run",
                "--state-dir", str(tmp_path / "s")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "dry run" in res.stdout and "tasks" in res.stdout


# -- demo ---------------------------------------------------------------------------------
def test_demo_refuses_a_project_with_foreign_records(url):
    result = run("demo", "--url", url, "--project", "p")
    one_line_error(result, "3 record(s) the demo did not write", "--reset")
    with cs.open(url, project="p") as store:
        assert store.count("tasks") == 3 and store.get("tasks", "T2")["title"] == "Add, CLI"
    assert run("demo", "--url", url, "--project", "p", "--reset", "--json").exit_code == 0


def test_demo_reruns_on_its_own_project_but_not_after_foreign_writes(tmp_path):
    url = f"json://{tmp_path}/d"
    assert run("demo", "--url", url, "--json").exit_code == 0
    assert run("demo", "--url", url, "--json").exit_code == 0
    with cs.open(url, project="demo") as store:
        store.insert("notes", {"mine": True}, id="n1")
    one_line_error(run("demo", "--url", url), "notes:n1")


# -- progress -----------------------------------------------------------------------------
def test_progress_line_has_done_total_rate_and_eta():
    bar = Progress("migrated", 200, force=True)
    bar.start -= 2.0  # two seconds ago
    bar.done = 50
    line = bar.line()
    assert line.startswith("migrated 50/200") and "25.0%" in line
    assert "25/s" in line and "ETA 6.0 s" in line


def test_progress_stays_quiet_when_stdout_is_not_a_terminal(url):
    result = run("export", "--url", url, "--project", "p")
    assert result.stderr == ""


def test_inspect_names_an_unfinished_commit_and_the_lock_holder(url, tmp_path):
    import fcntl
    import os

    meta = tmp_path / "data" / "p" / ".meta"
    (segment,) = sorted((meta / "log").iterdir())
    doc = {"id": "T9", "_version": 2, "title": "late"}
    line = {"seq": 2, "changes": [{"table": "tasks", "id": "T9", "op": "insert", "doc": doc}]}
    with open(segment, "a") as f:  # a writer killed after its commit point, before "done"
        f.write(json.dumps(line) + "\n")
    (rep,) = json.loads(run("inspect", url, "--json").stdout)
    assert "unfinished" in {f["kind"] for f in rep["findings"]}
    assert not (tmp_path / "data" / "p" / "tasks" / "T9.json").exists()  # inspect only looks
    fd = os.open(meta / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        (rep,) = json.loads(run("inspect", url, "--json").stdout)
        assert rep["lock_pids"] == [os.getpid()]
        kinds = {f["kind"] for f in rep["findings"]}
        assert {"unfinished", "locked"} <= kinds
    finally:
        os.close(fd)
    fixed = run("doctor", url, "--repair", "--json")
    assert fixed.exit_code == 0, fixed.output
    (project,) = json.loads(fixed.stdout)["projects"]
    assert project["finished"] and project["findings"] == []
    assert (
        json.loads((tmp_path / "data" / "p" / "tasks" / "T9.json").read_text())["title"] == "late"
    )


def test_help_loads_no_backend_and_no_command_work():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from conductor_store.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('surrealdb', 'sqlglot', 'conductor_store.migrate', 'conductor_store.portable',"
        " 'conductor_store.bench', 'conductor_store.doctor')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_progress_is_drawn_when_stdout_is_a_terminal(url, tmp_path):
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "conductor_store", "migrate", "--from", url, "--to",
             f"json://{tmp_path}/tty", "--project", "p", "--state-dir", str(tmp_path / "s")],
            stdout=slave, stderr=subprocess.PIPE, timeout=120,
        )  # fmt: skip
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.decode()
    assert "\rmigrated 3/3 100.0%" in err and "/s  ETA" in err
