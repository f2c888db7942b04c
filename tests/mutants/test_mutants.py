"""The conformance suite catches every mutant of the catalogue (and passes the unbroken
example): each deliberately broken backend fails at least one test, named in the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT

from .catalogue import MUTANTS


def test_every_mutant_fails_a_conformance_test(tmp_path):
    report = tmp_path / "caught.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/mutants/suite.py",
            "-p",
            "tests.mutants.suite_plugin",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
        ],
        cwd=ROOT,
        env={**os.environ, "CS_MUTANT_REPORT": str(report)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    caught = json.loads(report.read_text())
    print("\n".join(f"{name:<28} caught by {test}" for name, test in sorted(caught.items())))
    assert "Control" not in caught, done.stdout[-3000:]
    missed = sorted(set(MUTANTS) - set(caught))
    assert not missed, f"mutants no conformance test caught: {missed}"
    assert len(MUTANTS) >= 26
