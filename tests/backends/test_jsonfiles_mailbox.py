"""Group commit across processes on the JSON backend (``jsonfiles/mailbox.py``).

Each test makes the batch deterministic: this process holds the writers' lock, child
processes commit (they find the lock taken, post their batch and wait), and the test waits
until every child's batch is posted; then this process commits, carrying them, or leaves the
mailboxes as a writer that died would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import conductor_store as cs
from conductor_store.backends.jsonfiles import commit as commit_mod
from conductor_store.backends.jsonfiles import mailbox

CHILD = """
import json, sys
import conductor_store as cs
s = cs.open(sys.argv[1], project="p")
kind, id = sys.argv[2], sys.argv[3]
try:
    if kind == "stale":
        doc = s.put("t", id, {"n": 3, "_version": int(sys.argv[4])})
    else:
        doc = s.insert("t", {"n": 1}, id=id)
    print(json.dumps({"seq": doc["_version"]}))
except cs.StoreError as exc:
    print(json.dumps({"error": type(exc).__name__}))
"""


def _child(root, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(child: subprocess.Popen) -> dict:
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    return json.loads(out)


def _posted(root) -> list[mailbox.Posted]:
    return mailbox.open_posted(os.path.join(root, "p", ".meta"), None)


def _wait_posted(root, n: int) -> None:
    """Poll until ``n`` children have posted (bounded; no fixed sleep)."""
    deadline = time.monotonic() + 60
    while True:
        found = _posted(root)
        mailbox.close_all(found)
        if len([p for p in found if p.state == b"P"]) >= n:
            return
        assert time.monotonic() < deadline, "the children never posted"
        time.sleep(0.005)


@pytest.fixture
def store(tmp_path):
    s = cs.open(str(tmp_path), project="p")
    s.put("t", "warm", {"n": 0})
    yield s
    s.close()


def test_posted_commits_of_other_processes_share_the_holders_commit(tmp_path, store):
    store.put("t", "x", {"n": 1})
    stale = store.get("t", "x")["_version"]
    store.put("t", "x", {"n": 2})
    store.backend._lock()
    try:
        kids = [_child(tmp_path, "insert", "a"), _child(tmp_path, "stale", "x", stale)]
        _wait_posted(tmp_path, 2)
        mine = store.insert("t", {"n": 0}, id="lead")  # carries both posted batches
    finally:
        store.backend._unlock()
    a, x = (_finish(k) for k in kids)
    assert a == {"seq": mine["_version"]}
    assert x == {"error": "ConflictError"}  # its check failed: its own error, nothing written
    assert store.get("t", "x")["n"] == 2
    changes = store.changes(since=mine["_version"] - 1)
    assert [(c.seq, c.id) for c in changes] == [(mine["_version"], "lead"), (a["seq"], "a")]


def test_a_batch_taken_by_a_writer_that_died_before_its_commit_is_committed_by_its_owner(
    tmp_path, store
):
    last = store.changes()[-1].seq
    store.backend._lock()
    try:
        kid = _child(tmp_path, "insert", "a")
        _wait_posted(tmp_path, 1)
        (taken,) = _posted(tmp_path)
        taken.reqs = [commit_mod.Request(*mailbox.decode_request(r)) for r in taken.payload["reqs"]]
        taken.write(b"T", last + 1)  # marked taken; then the holder died before its line
        taken.close()
    finally:
        store.backend._unlock()
    assert _finish(kid) == {"seq": last + 1}  # the owner committed it itself, once
    assert [(c.seq, c.id) for c in store.changes(since=last)] == [(last + 1, "a")]


def test_a_batch_committed_by_a_writer_that_died_before_saying_so_is_not_committed_again(
    tmp_path, store, monkeypatch
):
    # the holder dies right after its commit: the mailbox still says "taken"
    monkeypatch.setattr(commit_mod, "mark_done", lambda posted, seq: mailbox.close_all(posted))
    store.backend._lock()
    try:
        kid = _child(tmp_path, "insert", "a")
        _wait_posted(tmp_path, 1)
        mine = store.insert("t", {"n": 0}, id="lead")
    finally:
        store.backend._unlock()
    assert _finish(kid) == {"seq": mine["_version"]}  # told from the log: done, not redone
    changes = store.changes(since=mine["_version"] - 1)
    assert [(c.seq, c.id) for c in changes] == [(mine["_version"], "lead"), (mine["_version"], "a")]


def test_a_torn_or_foreign_mailbox_is_left_alone(tmp_path, store):
    mail = tmp_path / "p" / ".meta" / "mail"
    mail.mkdir(exist_ok=True)
    (mail / "junk").write_bytes(b"P\x10\x00\x00\x00garbage")
    (mail / "huge").write_bytes(b"P\xff\xff\xff\xff\x00\x00\x00\x00{}")  # a 4 GiB length
    store.insert("t", {"n": 1}, id="a")
    assert (mail / "junk").read_bytes() == b"P\x10\x00\x00\x00garbage"
    assert store.get("t", "a")["n"] == 1


def test_a_closed_store_removes_its_mailbox(tmp_path, store):
    box = store.backend._own_mailbox()
    assert box is not None and box.name in os.listdir(box.dir)
    store.close()
    assert box.name not in os.listdir(box.dir)


def test_the_empty_mailbox_of_a_process_that_is_gone_is_removed(tmp_path, store):
    kid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    gone = int(kid.stdout)
    mail = tmp_path / "p" / ".meta" / "mail"
    mail.mkdir(exist_ok=True)
    (mail / f"{gone}-dead").write_bytes(b"E\x00\x00\x00\x00\x00\x00\x00\x00")
    (mail / f"{os.getpid()}-alive").write_bytes(b"E\x00\x00\x00\x00\x00\x00\x00\x00")
    store.backend._lock()  # commits carrying posted batches look at every mailbox
    try:
        store.insert("t", {"n": 1}, id="a")
    finally:
        store.backend._unlock()
    assert sorted(os.listdir(mail)) == [f"{os.getpid()}-alive"]
