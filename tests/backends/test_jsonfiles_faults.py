"""Fault injection on the JSON-files backend: disk full, permission denied, read-only
filesystems, corrupted and truncated log and record files, symbolic links, leaked descriptors
and kill -9 at random points.

Every case ends the same way: the store opens (or raises a clear ``StoreError`` naming the
cause), nothing committed is lost, and nothing is half applied -- a commit that raised never
appears, after reopening either. Disk full and read-only use a small tmpfs where mounting is
allowed (root on Linux); the same faults are also injected through ``os`` wrappers everywhere.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import conductor_store as cs
from conductor_store import (
    BackendUnavailableError,
    CommitUnknownError,
    CorruptRecordError,
    StoreError,
)
from conductor_store.backends import jsonfiles
from tests.support import bank


# -- helpers ---------------------------------------------------------------------------------
@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "data"


def pdir(root: Path) -> Path:
    return root / "default"


def segments(root: Path) -> list[Path]:
    return sorted((pdir(root) / ".meta" / "log").glob("*.jsonl"))


def dump(root: Path) -> dict:
    """Every record, read by a fresh store."""
    with cs.open(str(root)) as s:
        return {(t, d["id"]): d for t in s.tables() for d in s.find(t)}


def fill(store: cs.Store, n: int = 5) -> None:
    for i in range(n):
        with store.transaction() as tx:
            tx.put("t", f"r{i}", {"i": i, "pad": "p" * 40})
            tx.put("u", f"r{i}", {"i": i})


def fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class Fault:
    """Make ``os.<name>`` raise ``OSError(code)`` on calls touching ``under``, from the
    ``after``-th such call on (``times`` calls at most, then the disk is "mended")."""

    def __init__(
        self, monkeypatch, name: str, code: int, under: Path, after: int = 0, times: int = 1 << 30
    ) -> None:
        self.calls = 0
        self.raised = 0
        real = getattr(os, name)
        where = str(under)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            target = args[0]
            path = fd_path(target) if isinstance(target, int) else os.fspath(target)
            if path.startswith(where):
                self.calls += 1
                if self.calls > after and self.raised < times:
                    self.raised += 1
                    raise OSError(code, os.strerror(code), path)
            return real(*args, **kwargs)

        monkeypatch.setattr(os, name, wrapper)


def can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and os.path.exists("/proc/mounts")


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (skips where mounting is not allowed)."""
    where.mkdir(parents=True)
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root on Linux (the os-wrapper tests cover the rest)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def remount(where: Path, opts: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{opts}", str(where)], check=True)


# -- disk full ---------------------------------------------------------------------------------
def test_disk_full_on_a_small_tmpfs_raises_store_errors_and_applies_nothing(tmp_path):
    with tmpfs(tmp_path / "mnt", "256k") as mnt:
        root = mnt / "data"
        committed, failed = [], []
        with cs.open(str(root)) as s:
            for i in range(200):
                try:
                    with s.transaction() as tx:
                        tx.put("t", f"a{i}", {"i": i, "pad": "x" * 600})
                        tx.put("t", f"b{i}", {"i": i, "pad": "y" * 600})
                    committed.append(i)
                except StoreError as exc:
                    assert "No space left on device" in str(exc) and "ENOSPC" in str(exc)
                    failed.append(i)
            assert committed and failed  # the disk did fill up
            assert {d["id"] for d in s.find("t")} == {f"{k}{i}" for i in committed for k in "ab"}
            remount(mnt, "size=4m")  # space freed: the same open store commits again
            s.put("t", "after", {"ok": True})
        data = dump(root)
        assert set(data) == {("t", f"{k}{i}") for i in committed for k in "ab"} | {("t", "after")}
        with cs.open(str(root)) as s:
            assert bank.replayed(s) == data
            assert [c.seq for c in s.changes()][-1] == len(committed) + 1


@pytest.mark.parametrize("call", range(5))
def test_disk_full_at_each_write_of_a_commit_takes_it_back(root, monkeypatch, call):
    """ENOSPC from the n-th write of a commit (log line, record files, done line): a
    StoreError naming it, nothing of the commit visible now or after reopening, and the
    store commits again once the disk has room."""
    with cs.open(str(root)) as s:
        fill(s, 2)
        before = dump(root)
        fault = Fault(monkeypatch, "write", errno.ENOSPC, root, after=call, times=1)
        with pytest.raises(StoreError) as exc:
            with s.transaction() as tx:
                tx.put("t", "r0", {"changed": True})  # rewritten in place
                tx.put("t", "new", {"n": 1})
                tx.delete("u", "r1")
                tx.put("v", "first", {"n": 1})  # a new table
        assert fault.raised == 1
        assert "ENOSPC" in str(exc.value)
        assert not isinstance(exc.value, CommitUnknownError)
        assert {(t, d["id"]): d for t in s.tables() for d in s.find(t)} == before
        assert s.get("t", "new") is None and s.get("u", "r1") is not None
        s.put("t", "later", {"ok": 1})
        assert s.changes()[-1].seq == 3  # the failed commit's number was not used
    after = dump(root)
    assert after == {**before, ("t", "later"): after[("t", "later")]}


def test_fsync_failure_is_not_a_commit(root, monkeypatch):
    with cs.open(str(root)) as s:
        fill(s, 1)
        before = dump(root)
        Fault(monkeypatch, "fdatasync", errno.EIO, root, times=1)
        with pytest.raises(StoreError) as exc:
            s.put("t", "x", {"v": 1})
        assert "EIO" in str(exc.value)
        assert s.get("t", "x") is None
    assert dump(root) == before


def test_a_commit_that_cannot_be_taken_back_is_finished_not_half_there(root, monkeypatch):
    """The record files fail and so does restoring them, but the disk is back for the
    recovery: the commit is finished and the call returns (it did happen)."""
    with cs.open(str(root)) as s:
        fill(s, 1)
        Fault(monkeypatch, "write", errno.ENOSPC, pdir(root) / "t", after=0, times=2)
        s.put("t", "r0", {"v": "whole"})
        assert s.get("t", "r0")["v"] == "whole"
    assert dump(root)[("t", "r0")]["v"] == "whole"


# -- permission denied -------------------------------------------------------------------------
def test_permission_denied_on_a_record_file_takes_the_commit_back(root, monkeypatch):
    with cs.open(str(root)) as s:
        fill(s, 2)
        before = dump(root)
        Fault(monkeypatch, "open", errno.EACCES, pdir(root) / "u", times=1)
        with pytest.raises(StoreError) as exc:
            with s.transaction() as tx:
                tx.put("t", "r0", {"changed": 1})
                tx.put("u", "r0", {"changed": 1})
        assert "Permission denied (EACCES)" in str(exc.value)
    assert dump(root) == before


def test_permission_denied_on_open_is_a_clear_error(root, monkeypatch):
    with cs.open(str(root)) as s:
        fill(s, 1)
    Fault(monkeypatch, "open", errno.EACCES, pdir(root) / ".meta")
    with pytest.raises(BackendUnavailableError) as exc:
        cs.open(str(root))
    assert "Permission denied" in str(exc.value) and str(root) in str(exc.value)


def test_open_leaves_no_descriptor_behind_when_it_fails(root, monkeypatch):
    with cs.open(str(root)):
        pass
    before = len(os.listdir("/proc/self/fd"))
    Fault(monkeypatch, "open", errno.EACCES, pdir(root) / ".meta" / "log")
    for _ in range(5):
        with pytest.raises(BackendUnavailableError):
            cs.open(str(root))
    assert len(os.listdir("/proc/self/fd")) == before


# -- read-only filesystem ----------------------------------------------------------------------
def test_read_only_filesystem(tmp_path):
    """Opening a store on a filesystem remounted read-only is a clear error; nothing changes.
    (A store already open keeps the mount busy; its commits meeting EROFS are injected in
    the next test.)"""
    with tmpfs(tmp_path / "mnt", "4m") as mnt:
        root = mnt / "data"
        with cs.open(str(root)) as s:
            fill(s, 3)
        before = dump(root)
        remount(mnt, "ro")
        try:
            with pytest.raises(BackendUnavailableError) as exc:
                cs.open(str(root))
            assert "Read-only file system (EROFS)" in str(exc.value)
        finally:
            remount(mnt, "rw")
        assert dump(root) == before


def test_read_only_filesystem_injected(root, monkeypatch):
    with cs.open(str(root)) as s:
        fill(s, 2)
        before = dump(root)
        Fault(monkeypatch, "write", errno.EROFS, root)
        with pytest.raises(StoreError) as exc:
            s.update("t", "r1", {"v": 1})
        assert "EROFS" in str(exc.value)
    monkeypatch.undo()
    assert dump(root) == before


# -- corruption of record files ----------------------------------------------------------------
def _nested(depth: int) -> bytes:
    return b'{"id": "x", "_version": 1, "a": ' + b"[" * depth + b"]" * depth + b"}"


RECORD_CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "deeply nested": lambda p: p.write_bytes(_nested(100_000)),
    "NaN": lambda p: p.write_bytes(b'{"id": "x", "_version": 1, "a": NaN}'),
    "Infinity": lambda p: p.write_bytes(b'{"id": "x", "_version": 1, "a": -Infinity}'),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:7]),
    "emptied": lambda p: p.write_bytes(b""),
    "invalid UTF-8": lambda p: p.write_bytes(b'{"id": "x", "_version": 1, "a": "\xc3\x28"}'),
    "flipped byte": lambda p: p.write_bytes(p.read_bytes().replace(b'"id"', b'"i\x00"')),
    "wrong id": lambda p: p.write_bytes(b'{"id": "y", "_version": 1}'),
    "a directory": lambda p: (p.unlink(), p.mkdir()),
    "a FIFO": lambda p: (p.unlink(), os.mkfifo(p)),
    "a dangling symlink": lambda p: (p.unlink(), p.symlink_to(p.parent / "nowhere")),
}


@pytest.mark.parametrize("how", sorted(RECORD_CORRUPTIONS))
def test_a_corrupt_record_file_names_its_path_and_nothing_else_is_lost(root, how):
    with cs.open(str(root)) as s:
        s.insert("t", {"a": 1}, id="x")
        s.insert("t", {"a": 2}, id="y")
        s.find("t")  # cached: the corruption must still be noticed
        path = pdir(root) / "t" / "x.json"
        RECORD_CORRUPTIONS[how](path)
        for read in (lambda: s.get("t", "x"), lambda: s.find("t"), lambda: s.count("t")):
            with pytest.raises(CorruptRecordError) as exc:
                read()
            assert exc.value.path == str(path) and str(path) in str(exc.value)
        with pytest.raises(CorruptRecordError):
            s.update("t", "x", {"a": 3})  # nothing written over what it cannot read
        assert s.get("t", "y")["a"] == 2
    with cs.open(str(root)) as s:  # cold
        with pytest.raises(CorruptRecordError) as exc:
            s.find("t")
        assert exc.value.path == str(path)
        assert s.get("t", "y")["a"] == 2
        assert [c.seq for c in s.changes()] == [1, 2]


# -- corruption and truncation of the log ------------------------------------------------------
def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _line_start(path: Path, n: int) -> int:
    """Offset of the n-th line (0-based, negative from the end)."""
    lines = path.read_bytes().splitlines(keepends=True)
    n = n % len(lines)
    return sum(len(x) for x in lines[:n])


LOG_CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    # bytes inside finished commit lines: data intact, changes() says where the log is bad
    "flip in a middle commit's document": lambda p: _flip(p, _line_start(p, 2) + 60),
    "flip in the last commit's document": lambda p: _flip(p, _line_start(p, -2) + 60),
    "flip in a commit's seq prefix": lambda p: _flip(p, _line_start(p, 4) + 3),
    "invalid UTF-8 mid-log": lambda p: p.write_bytes(
        p.read_bytes().replace(b'"pad":"pp', b'"pad":"\xff\xfe', 1)
    ),
    "a line of junk mid-log": lambda p: p.write_bytes(
        p.read_bytes().replace(b'{"done":2}\n', b'{"done":2}\nhello\n', 1)
    ),
    # the tail: repaired on open
    "flip in the last done line": lambda p: _flip(p, _line_start(p, -1) + 3),
    "last done line cut": lambda p: os.truncate(p, _line_start(p, -1)),
    "torn garbage appended": lambda p: p.write_bytes(p.read_bytes() + b'{"seq":99,"chan'),
    "junk line appended": lambda p: p.write_bytes(p.read_bytes() + b"\x00\x00junk\n"),
    "NaN line appended": lambda p: p.write_bytes(p.read_bytes() + b'{"seq":6,"x":NaN}\n'),
    # lost lines: the record files are newer than the log
    "last commit cut": lambda p: os.truncate(p, _line_start(p, -2)),
    "last two commits cut": lambda p: os.truncate(p, _line_start(p, -4)),
    "log emptied": lambda p: os.truncate(p, 0),
    "log cut mid-line": lambda p: os.truncate(p, _line_start(p, -3) + 25),
    "log deleted": lambda p: p.unlink(),
}


@pytest.mark.parametrize("how", sorted(LOG_CORRUPTIONS))
def test_log_corruption_never_loses_data_nor_misleads_changes(root, how):
    """Whatever happens to the log of a closed store: it opens; every record file still
    reads back; ``changes()`` either raises CorruptRecordError naming the segment or
    describes exactly the data (never older versions than the files hold); and seq numbers
    never repeat: the next commit is numbered past every one seen before."""
    with cs.open(str(root)) as s:
        fill(s, 5)
        seen = max(c.seq for c in s.changes())
    data = dump(root)
    seg = segments(root)[-1]
    LOG_CORRUPTIONS[how](seg)
    with cs.open(str(root)) as s:
        assert {(t, d["id"]): d for t in s.tables() for d in s.find(t)} == data
        try:
            changes = s.changes()
        except CorruptRecordError as exc:
            assert exc.path == str(seg) and str(seg) in str(exc)
        else:
            assert bank.replayed(s) == data
            assert all(c.time is None or c.time > 0 for c in changes)
        doc = s.put("t", "next", {"n": 1})
        assert doc["_version"] > seen
    with cs.open(str(root)) as s:  # and again, after that commit
        assert {(t, d["id"]): d for t in s.tables() for d in s.find(t)} == {
            **data,
            ("t", "next"): doc,
        }


def test_changes_after_a_flipped_byte_names_the_segment(root):
    with cs.open(str(root)) as s:
        fill(s, 3)
    seg = segments(root)[-1]
    _flip(seg, _line_start(seg, 2) + 40)
    with cs.open(str(root)) as s:
        with pytest.raises(CorruptRecordError) as exc:
            s.changes()
        assert exc.value.path == str(seg) and "byte" in str(exc.value)
        assert s.changes(since=2)  # the lines after it still read


def test_truncated_log_tail_does_not_replay_older_versions(root):
    with cs.open(str(root)) as s:
        s.insert("t", {"v": 1}, id="x")
        for v in range(2, 6):
            s.update("t", "x", {"v": v})
    seg = segments(root)[-1]
    os.truncate(seg, _line_start(seg, -4))  # the last two commits' lines are gone
    with cs.open(str(root)) as s:
        assert s.get("t", "x")["v"] == 5
        last = [c for c in s.changes() if c.id == "x"][-1]
        assert last.doc == s.get("t", "x")  # not version 3's document
        assert s.update("t", "x", {"v": 6})["_version"] > 5


def test_reboot_replay_over_a_corrupt_log_is_a_clear_error(root):
    with cs.open(str(root)) as s:
        fill(s, 3)
    seg = segments(root)[-1]
    _flip(seg, _line_start(seg, 2) + 40)
    (pdir(root) / ".meta" / "boot").write_text("another-boot\n")
    if jsonfiles._boot_id() is None:
        pytest.skip("no boot id on this system: every open replays")
    with pytest.raises(CorruptRecordError) as exc:
        cs.open(str(root))
    assert exc.value.path == str(seg)


# -- symbolic links ----------------------------------------------------------------------------
def test_a_symlink_planted_as_a_record_file_is_never_followed(root, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text('{"id": "x", "_version": 1, "secret": "do not touch"}')
    with cs.open(str(root)) as s:
        s.insert("t", {"a": 1}, id="x")
        s.insert("t", {"a": 1}, id="y")
        path = pdir(root) / "t" / "x.json"
        path.unlink()
        path.symlink_to(outside)
        with pytest.raises(CorruptRecordError) as exc:
            s.update("t", "x", {"a": 2})
        assert exc.value.path == str(path)
        with pytest.raises(CorruptRecordError):
            s.put("t", "x", {"a": 2})
        with pytest.raises(CorruptRecordError):
            s.get("t", "x")
        with pytest.raises(CorruptRecordError):
            s.find("t")
        # a dangling link where a new record goes: the insert must not create its target
        (pdir(root) / "t" / "z.json").symlink_to(tmp_path / "created-outside.json")
        with pytest.raises(StoreError):
            s.insert("t", {"a": 3}, id="z")
    assert json.loads(outside.read_text())["secret"] == "do not touch"
    assert not (tmp_path / "created-outside.json").exists()


def test_a_symlinked_table_directory_is_refused(root, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with cs.open(str(root)) as s:
        s.insert("t", {"a": 1}, id="x")
    (pdir(root) / "evil").symlink_to(elsewhere, target_is_directory=True)
    with cs.open(str(root)) as s:
        with pytest.raises(CorruptRecordError) as exc:
            s.put("evil", "x", {"a": 1})
        assert exc.value.path == str(pdir(root) / "evil")
        with pytest.raises(CorruptRecordError):
            s.find("evil")
        assert s.get("t", "x")["a"] == 1
    assert list(elsewhere.iterdir()) == []


def test_a_symlinked_meta_directory_is_refused(root, tmp_path):
    with cs.open(str(root)):
        pass
    meta = pdir(root) / ".meta"
    moved = tmp_path / "meta-elsewhere"
    meta.rename(moved)
    meta.symlink_to(moved, target_is_directory=True)
    with pytest.raises(BackendUnavailableError) as exc:
        cs.open(str(root))
    assert "symbolic links are not followed" in str(exc.value)


# -- descriptors -------------------------------------------------------------------------------
def test_close_releases_every_descriptor_at_once(root):
    with cs.open(str(root)) as s:
        fill(s, 2)
    before = len(os.listdir("/proc/self/fd"))
    for i in range(40):
        s = cs.open(str(root))
        s.put("t", f"c{i}", {"i": i})
        s.find("t")
        s.changes()
        s.close()
    assert len(os.listdir("/proc/self/fd")) == before


# -- kill -9 at random points (the bank workload of tests/support/bank.py) -----------------
def _fork_writer(url: str, seed: int, out: int) -> int:
    """A forked writer (cheaper than a new process) whose log switches segments often, so that
    kills land in rotations too; every other one is not durable."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child is killed
        try:
            jsonfiles.SEGMENT_BYTES = 8 * 1024
            bank.write_forever(url, out, seed, durable=seed % 2 == 0)
        finally:
            os._exit(1)
    return pid


def test_kill_9_at_random_points(root):
    bank.kill_trials(str(root), 25, seed=7, start=_fork_writer)


@pytest.mark.slow
def test_kill_9_at_random_points_many(root):
    bank.kill_trials(str(root), 200, seed=11, start=_fork_writer)
