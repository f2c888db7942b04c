"""`conductor-store conformance URL` and `pytest --conductor-store-url URL`, run as a user
would: in fresh processes, on the SQLite example (found through its entry point) and on a
deliberately broken backend."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT, LoopbackServer

BROKEN = (
    "import conductor_store as cs, sys;"
    "from tests.mutants.catalogue import NonAtomicCommit;"
    "cs.register('broken', lambda url, *, project, **o: NonAtomicCommit(url, project));"
    "from conductor_store.cli import main; sys.argv[0] = 'conductor-store'; main()"
)


def cli(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "conductor_store", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_good_backend_passes_with_a_report_by_area():
    done = cli("conformance", "sqlite://{tmp}/db.sqlite", "-k", "insert or reopen", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["passed"] is True and report["failures"] == []
    assert report["capabilities"]["persistent"] is True
    assert report["capabilities"]["multiprocess"] is True
    assert report["capabilities"]["network"] is False
    assert report["areas"]["CRUD"]["passed"] > 0
    assert report["verdict"].startswith("PASS")


def test_a_broken_backend_fails_naming_the_promise_and_the_values():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            BROKEN,
            "conformance",
            "broken://loc-{unique}",
            "-k",
            "later_insert_conflicts",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "FAILED test_a_commit_whose_later_insert_conflicts_writes_nothing" in done.stdout
    assert "all or nothing" in done.stdout  # the promise, from the test's docstring
    assert "assert {" in done.stdout or "assert [" in done.stdout  # values, not a bare assert
    assert done.stdout.rstrip().splitlines()[-1].startswith("FAIL: 0 passed, 1 failed")


def test_unknown_capability_is_one_clear_line():
    done = cli("conformance", "sqlite://{tmp}/db.sqlite", "--capability", "teleport")
    assert done.returncode != 0
    assert "unknown capability 'teleport'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_pytest_plugin_runs_the_suite_on_a_url(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--conductor-store-url",
            "sqlite://{tmp}/db.sqlite",
            "-k",
            "insert",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    server = LoopbackServer(data=tmp_path_factory.mktemp("cli-loopback") / "data",
                            password="Cli-Conformance-Pw_5e1").start()  # fmt: skip
    yield server
    server.kill()


@pytest.mark.parametrize("kind", ["json", "mem", "surrealkv", "remote"])
def test_the_command_runs_on_every_built_in_url_kind(kind, request):
    """The same command on each built-in backend (a slice of the suite: the full runs are the
    conformance classes in tests/conformance/), each capability detected as it is."""
    url = {
        "json": "json://{tmp}/data",
        "mem": "mem://",
        "surrealkv": "surrealkv://{tmp}/kv",
    }.get(kind)
    if url is None:
        port = request.getfixturevalue("loopback").port
        url = f"ws://root:Cli-Conformance-Pw_5e1@127.0.0.1:{port}/?namespace=t_{{unique}}"
    done = cli("conformance", url, "-k", "insert or reopen or later_insert", "--json")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["passed"] and report["areas"]["CRUD"]["passed"] > 0
    expected = {"json": (True, True, True), "mem": (False, False, False),
                "surrealkv": (True, True, False), "remote": (True, True, True)}[kind]  # fmt: skip
    caps = report["capabilities"]
    assert (caps["persistent"], caps["shared_location"], caps["multiprocess"]) == expected
    assert "Cli-Conformance-Pw_5e1" not in done.stdout + done.stderr
