"""Faults under an on-disk SurrealDB store (surrealkv): a torn engine log tail and a full disk.
Each ends with the store open, every completed commit there, nothing of a failed one, and the
change log agreeing with the records."""

from __future__ import annotations

import glob
import os
import subprocess
import uuid

import pytest

import conductor_store as cs


def _write_chain(store, n: int) -> None:
    """Commit ``i`` (seq i+1) inserts r<i> and updates r<i-1>."""
    for i in range(n):
        with store.transaction() as tx:
            tx.insert("t", {"i": i, "pad": "p" * 50}, id=f"r{i}")
            if i:
                tx.update("t", f"r{i - 1}", {"u": i})


def _consistent(store) -> dict:
    """The records equal the change log replayed; returns the records by id."""
    replayed: dict = {}
    for change in store.changes():
        if change.op == "delete":
            replayed.pop(change.id, None)
        else:
            replayed[change.id] = change.doc
    records = {doc["id"]: doc for doc in store.find("t")}
    assert records == replayed
    return records


@pytest.mark.parametrize("cut", [1, 40, 150, 300, 700, 1500, 3000])
def test_a_torn_engine_log_tail_never_leaves_records_without_their_log_entry(tmp_path, cut):
    """The engine's recovery kept a torn commit's records without its ``_CS_log`` record (seen
    for cuts of 300+ bytes); opening rolls such a commit back from the log."""
    path = tmp_path / "data"
    with cs.open(f"surrealkv://{path}") as store:
        _write_chain(store, 20)
    clog = sorted(glob.glob(f"{path}/clog/*.clog"))[-1]
    with open(clog, "r+b") as f:
        f.truncate(os.path.getsize(clog) - cut)
    with cs.open(f"surrealkv://{path}") as store:
        records = _consistent(store)
        last = store.changes()[-1].seq
        assert 10 <= last <= 20 and len(records) == last  # commits 1..last, whole
        for i in range(last):
            doc = records[f"r{i}"]
            assert doc["i"] == i and doc.get("u") == (i + 1 if i + 1 < last else None)
        assert store.insert("t", {}, id="next")["_version"] == last + 1


@pytest.fixture
def small_disk(tmp_path):
    """A small tmpfs (we mount it: root in CI), with a pad file to free later."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        with open(mount / "pad", "wb") as f:
            f.write(b"\0" * 5_000_000)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_fails_commits_cleanly_and_the_open_store_recovers(small_disk):
    url = f"surrealkv://{small_disk}/data"
    store = cs.open(url)
    ok, failed = [], []
    i = 0
    while len(failed) < 3:
        assert i < 20_000, "the disk never filled up"
        try:
            store.insert("t", {"i": i, "x": uuid.uuid4().hex * 60}, id=f"r{i}")
            ok.append(f"r{i}")
        except cs.StoreError as exc:  # never a bare OSError
            assert "space" in str(exc) or "fsync" in str(exc) or "IO" in str(exc), exc
            failed.append(f"r{i}")
        i += 1
    assert len(ok) > 10
    os.unlink(small_disk / "pad")
    assert store.insert("t", {"after": 1}, id="after")["_version"] == len(ok) + 1
    store.close()
    with cs.open(url) as again:
        records = _consistent(again)
        assert set(records) == set(ok) | {"after"}
        assert [c.seq for c in again.changes()] == list(range(1, len(ok) + 2))
        assert again.insert("t", {}, id="later")["_version"] == len(ok) + 2
