"""A real LangGraph graph on StoreSaver: a human-in-the-loop interrupt in one process resumed by
another, and a run killed with SIGKILL resumed from its last complete checkpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import conductor_store as cs
from tests.langgraph.graph_child import run
from tests.support import ROOT


def child(url: str, thread: str, phase: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.langgraph.graph_child", url, thread, phase],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def outcome(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_interrupt_then_resume_in_the_same_process_with_a_new_saver(url):
    """Each run opens its own store: the resume finds the interrupted run through the data
    alone. (A named mem:// database lives while some store has it open: ``holder`` keeps it.)"""
    with cs.open(url, project="holder"):
        first = run(url, "thread-1", "start")
        assert first["steps"] == ["plan"] and first["next"] == ["review"]
        assert first["interrupts"] == [{"question": "approve the plan?"}]
        done = run(url, "thread-1", "resume")
        assert done["steps"] == ["plan", "review:yes", "act"] and done["next"] == []


def test_interrupt_in_one_process_resumed_by_another(persistent_url):
    first = outcome(child(persistent_url, "thread-1", "start"))
    assert first["next"] == ["review"] and first["interrupts"]
    done = outcome(child(persistent_url, "thread-1", "resume"))
    assert done["steps"] == ["plan", "review:yes", "act"] and done["next"] == []


def test_a_run_killed_mid_way_resumes_from_its_last_checkpoint(persistent_url):
    crashed = child(persistent_url, "thread-k", "crash")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    done = outcome(child(persistent_url, "thread-k", "continue"))
    # 'plan' ran once, before the kill; the resumed run did only what was left
    assert done["steps"] == ["plan", "act"] and done["next"] == []
