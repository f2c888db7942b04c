"""kill -9 of a surrealkv writer at random points (the bank workload of tests/support/bank.py):
after every kill the store opens, no reported commit is lost, no transaction is half applied,
and the change log replays to the data. Each writer is a fresh process: the embedded engine
runs threads of its own, which a fork would not carry over."""

from __future__ import annotations

import pytest

from tests.support import bank


def test_kill_9_at_random_points(tmp_path):
    assert bank.kill_trials(f"surrealkv://{tmp_path}/kv", 25, seed=3) > 0


@pytest.mark.slow
def test_kill_9_at_random_points_many(tmp_path):
    assert bank.kill_trials(f"surrealkv://{tmp_path}/kv", 200, seed=5) > 0
