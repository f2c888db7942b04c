"""The README's Python examples run as a new user would paste them: each in a fresh process,
twice in a row (the second run must not trip over what the first left), on the default
backend in a data directory of the test's own (never the user's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example{i + 1}" for i in range(len(BLOCKS))])
def test_readme_example_runs_twice(block, tmp_path):
    env = {**os.environ, "CONDUCTOR_STORE_URL": f"json://{tmp_path}/data"}
    env.pop("SURREAL_URL", None)
    for attempt in (1, 2):
        done = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"run {attempt}:\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr
