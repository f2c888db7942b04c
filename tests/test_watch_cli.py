"""``conductor-store watch``: one line per change (or JSON), table filter, clean errors and a
clean exit on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

from click.testing import CliRunner

import conductor_store as cs
from conductor_store.cli import main


def _seed(url: str) -> list:
    with cs.open(url) as store:
        store.insert("tasks", {"status": "pending"}, id="T1")
        store.insert("runs", {"n": 1}, id="R1")
        store.update("tasks", "T1", {"status": "done"})
        store.delete("runs", "R1")
        return store.changes()


def test_watch_prints_one_line_per_change(tmp_path):
    """Each change is one readable line naming seq, commit time, op, table:id and the fields."""
    url = f"json://{tmp_path}/data"
    log = _seed(url)
    result = CliRunner().invoke(main, ["watch", "--url", url, "--since", "0", "--timeout", "0.1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(log)
    seq, clock, *rest = lines[0].split()
    assert seq == str(log[0].seq) and rest[:2] == ["insert", "tasks:T1"]
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", clock), clock  # the commit's local time
    assert '"status": "pending"' in lines[0]
    assert lines[3].split()[2:] == ["delete", "runs:R1"]


def test_watch_json_and_table_filter(tmp_path):
    """--json prints one JSON object per change; --table keeps only that table."""
    url = f"json://{tmp_path}/data"
    log = _seed(url)
    args = ["watch", "--url", url, "--since", "0", "--timeout", "0.1", "--json", "--table", "tasks"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    expected = [c for c in log if c.table == "tasks"]
    assert [(r["seq"], r["op"], r["id"], r["doc"]) for r in rows] == [
        (c.seq, c.op, c.id, c.doc) for c in expected
    ]


def test_watch_errors_are_one_line(tmp_path):
    """A bad table name or a pruned/invalid position is one error line, no traceback."""
    url = f"json://{tmp_path}/data"
    result = CliRunner().invoke(main, ["watch", "--url", url, "--table", "Bad-Name"])
    assert result.exit_code != 0
    assert "Error: invalid table name" in result.output and "Traceback" not in result.output


def test_watch_exits_cleanly_on_ctrl_c(tmp_path):
    """Ctrl-C (SIGINT) while watching ends the command with status 0 and no traceback."""
    url = f"json://{tmp_path}/data"
    _seed(url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "conductor_store", "watch", "--url", url, "--since", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # it is watching: the replay has started
        assert "tasks:T1" in first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Aborted" not in err
