"""Compressed log segments on the JSON-files backend: closed segments whose record files are
known synced become ``<first>.jsonl.gz`` in the background thread; every reader (changes(),
replay after a reboot, reopening, pruning, doctor, other processes) reads both forms through
one function, and a crash at any step of a compression leaves the segment readable."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import conductor_store as cs
from conductor_store import CorruptRecordError, doctor
from conductor_store.backends import jsonfiles
from conductor_store.backends.jsonfiles import retention, segments
from conductor_store.backends.jsonfiles.retention import Retention


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def small_segments(monkeypatch):
    monkeypatch.setattr(jsonfiles, "SEGMENT_BYTES", 2048)


def logdir(root: Path) -> Path:
    return root / "default" / ".meta" / "log"


def names(root: Path) -> list[str]:
    return sorted(os.listdir(logdir(root)))


def write_many(s: cs.Store, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        if i % 13 == 12:
            s.delete("t", f"r{(i - 1) % 9}")
        else:
            s.put("t", f"r{i % 9}", {"i": i, "pad": "x" * 60})


def as_tuples(changes: list) -> list[tuple]:
    return [(c.seq, c.table, c.id, c.op, c.doc, c.time) for c in changes]


def all_changes(s: cs.Store) -> dict[int, list[tuple]]:
    """changes(since) from every position, plus a few limited and filtered reads."""
    last = s.changes()[-1].seq
    out = {since: as_tuples(s.changes(since)) for since in range(0, last + 1)}
    out[-1] = as_tuples(s.changes(5, limit=7)) + as_tuples(s.changes(0, tables=["nope"]))
    return out


def compress_now(s: cs.Store) -> None:
    """The background pass, as the syncer thread runs it after a segment switch."""
    s.backend._compress_synced()


@pytest.fixture
def no_background(monkeypatch):
    """Neither syncfs nor compression in the background (the mark is moved by hand)."""
    monkeypatch.setattr(Retention, "_background_sync", lambda self, upto: None)


def mark_all_synced(s: cs.Store) -> None:
    s.backend._mark_synced(s.backend._seg_first)


def test_closed_synced_segments_are_compressed_and_read_the_same(root, no_background):
    with cs.open(str(root)) as s:
        write_many(s, 120)
        before = all_changes(s)
        plain = {n: (logdir(root) / n).read_bytes() for n in names(root)}
        assert len(plain) > 4 and not any(n.endswith(".gz") for n in plain)
        compress_now(s)
        assert names(root) == sorted(plain)  # nothing is known synced yet: all kept plain
        mark_all_synced(s)
        compress_now(s)
        after = names(root)
        assert [n.endswith(".jsonl.gz") for n in after] == [True] * (len(plain) - 1) + [False]
        for n in after[:-1]:  # the same bytes, in a file zcat reads
            assert gzip.decompress((logdir(root) / n).read_bytes()) == plain[n[:-3]]
        assert all_changes(s) == before
        write_many(s, 30, start=120)  # the current segment goes on as before
        assert as_tuples(s.changes(0))[: len(before[0])] == before[0]
    with cs.open(str(root)) as again:
        assert all_changes(again)[0][: len(before[0])] == before[0]


def test_zcat_reads_a_compressed_segment(root, no_background):
    zcat = shutil.which("zcat")
    if zcat is None:
        pytest.skip("no zcat on this machine")
    with cs.open(str(root)) as s:
        write_many(s, 40)
        mark_all_synced(s)
        plain = (logdir(root) / names(root)[0]).read_bytes()
        compress_now(s)
    out = subprocess.run([zcat, str(logdir(root) / names(root)[0])], capture_output=True)
    assert names(root)[0].endswith(".gz") and out.returncode == 0 and out.stdout == plain


def test_compression_runs_in_the_background_thread_only(root, monkeypatch):
    threads: list = []
    real = retention.compress_segment
    monkeypatch.setattr(
        retention,
        "compress_segment",
        lambda *a: threads.append(threading.current_thread().name) or real(*a),
    )
    with cs.open(str(root)) as s:
        write_many(s, 80)
        s.backend._join_syncer()
        assert threads and set(threads) == {"conductor-store-syncfs"}
        assert all(n.endswith(".gz") for n in names(root)[:-1])
        assert not names(root)[-1].endswith(".gz")  # the current segment stays plain
        assert [c.seq for c in s.changes(70)] == list(range(71, 81))


@pytest.mark.parametrize("step", ["write", "fsync", "rename", "dir-fsync", "unlink"])
def test_a_compression_interrupted_at_any_step_leaves_the_segment_readable(
    root, no_background, monkeypatch, step
):
    with cs.open(str(root)) as s:
        write_many(s, 60)
        mark_all_synced(s)
        before = all_changes(s)
        target = {
            "write": (segments, "write_all"),
            "fsync": (segments.os, "fsync"),
            "rename": (segments.os, "replace"),
            "dir-fsync": (segments, "fsync_dir"),
            "unlink": (segments.os, "unlink"),
        }[step]
        real = getattr(*target)

        def crash(*args):
            if step == "write":
                real(args[0], args[1][:10])  # a torn temporary file
            raise OSError(5, "simulated crash")

        monkeypatch.setattr(*target, crash)
        with pytest.raises(OSError, match="simulated crash"):
            compress_now(s)
        monkeypatch.setattr(*target, real)
        left = names(root)
        if step in ("write", "fsync", "rename"):
            assert left[0].endswith(".jsonl") and left[1] == left[0] + ".gz.tmp"
        else:  # both forms: the plain one is read until the next pass
            assert left[0].endswith(".jsonl") and left[1] == left[0] + ".gz"
        assert all_changes(s) == before
        with cs.open(str(root)) as other:  # what a fresh process's store would see
            assert all_changes(other) == before
        compress_now(s)  # the next pass finishes the job
        assert not any(n.endswith(".tmp") for n in names(root))
        assert all(n.endswith(".jsonl.gz") for n in names(root)[:-1])
        assert all_changes(s) == before


def test_when_both_forms_exist_the_plain_one_is_read_and_the_next_pass_redoes_it(
    root, no_background
):
    with cs.open(str(root)) as s:
        write_many(s, 60)
        mark_all_synced(s)
        before = all_changes(s)
        first = logdir(root) / names(root)[0]
        plain = first.read_bytes()
        bad = Path(str(first) + ".gz")
        bad.write_bytes(gzip.compress(b'{"seq":1,"garbage":true}\n'))  # not what it holds
        assert all_changes(s) == before  # the .jsonl wins while it exists
        compress_now(s)
        assert not first.exists() and gzip.decompress(bad.read_bytes()) == plain
        assert all_changes(s) == before


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_corrupt_compressed_segment_is_a_corrupt_record_error_naming_it(
    root, no_background, damage
):
    with cs.open(str(root)) as s:
        write_many(s, 60)
        mark_all_synced(s)
        compress_now(s)
        gz = logdir(root) / names(root)[0]
        data = gz.read_bytes()
        if damage == "truncate":
            gz.write_bytes(data[: len(data) // 2])
        else:
            mid = len(data) // 2
            gz.write_bytes(data[:mid] + bytes([data[mid] ^ 0x10]) + data[mid + 1 :])
        with pytest.raises(CorruptRecordError, match=str(gz)) as err:
            s.changes(0)
        assert err.value.path == str(gz)
        assert [c.seq for c in s.changes(55)] == list(range(56, 61))  # later segments: fine
    report = doctor.check(str(root), "default")
    assert [f.path for f in report.findings if f.kind == "corrupt"] == [str(gz)]


def test_prune_removes_compressed_segments(root):
    with cs.open(str(root)) as s:
        write_many(s, 100)
        s.backend._join_syncer()
        n = len(names(root))
        assert sum(x.endswith(".gz") for x in names(root)) == n - 1
        s.backend.prune_changes(70)
        assert len(names(root)) < n and segments.segments(str(logdir(root)))[0] <= 71
        assert [c.seq for c in s.changes(70)] == list(range(71, 101))
        s.backend.prune_changes(100)
        assert len(names(root)) == 1 and not names(root)[0].endswith(".gz")


def test_a_compaction_racing_a_compression_leaves_neither_form(root, no_background, monkeypatch):
    with cs.open(str(root)) as s:
        write_many(s, 60)
        mark_all_synced(s)
        first = segments.segments(str(logdir(root)))[0]
        real = segments.fsync_dir

        def compact_meanwhile(path):  # the segment is compacted between rename and unlink
            real(path)
            os.unlink(os.path.join(path, segments.seg_name(first)))

        monkeypatch.setattr(segments, "fsync_dir", compact_meanwhile)
        assert segments.compress_segment(str(logdir(root)), first, 1 << 40, 6) is False
        nxt = segments.segments(str(logdir(root)))[1]
        assert segments.compress_segment(str(logdir(root)), first, nxt, 6) is True
        assert first not in segments.segments(str(logdir(root)))


def test_the_current_segment_is_never_compressed_beside_an_unfinished_rotation(root, no_background):
    with cs.open(str(root)) as s:
        write_many(s, 10)
        current = s.backend._seg_first
        nxt = s.backend._last_seq + 1
        (logdir(root) / segments.seg_name(nxt)).touch()  # a rotation that died half way
        s.backend._mark_synced(nxt + 1)
        compress_now(s)
        assert (logdir(root) / segments.seg_name(current)).exists()
        s.put("t", "after", {})
        assert s.changes(10)[0].id == "after"
    with cs.open(str(root)) as again:
        assert again.get("t", "after")["_version"] == 11


def test_replay_after_a_reboot_reads_compressed_segments(root, no_background):
    with cs.open(str(root)) as s:
        s.insert("t", {"v": "early"}, id="early")
        write_many(s, 60)
        mark_all_synced(s)
        compress_now(s)
    assert names(root)[0].endswith(".gz")
    meta = root / "default" / ".meta"
    (meta / "synced").write_text("1\n")  # a stale mark: everything is replayed
    (root / "default" / "t" / "early.json").write_text("")  # lost in the power cut
    (meta / "boot").write_text("another-boot\n")
    with cs.open(str(root)) as s:
        assert s.get("t", "early")["v"] == "early"


def test_open_finds_the_pointer_in_a_compressed_segment(root, no_background):
    with cs.open(str(root)) as s:
        write_many(s, 60)
        mark_all_synced(s)
        compress_now(s)
        records = {d["id"]: d for d in s.find("t")}
    current = logdir(root) / names(root)[-1]
    current.write_bytes(b"")  # the current segment lost its lines: only the pointer remains
    with cs.open(str(root)) as s:  # (the lost commits come back as one repair commit)
        assert {d["id"]: {**d, "_version": 0} for d in s.find("t")} == {
            k: {**d, "_version": 0} for k, d in records.items()
        }


def test_a_lagging_store_and_another_process_read_compressed_segments(root):
    with cs.open(str(root)) as s, cs.open(str(root)) as lagging:
        assert lagging.get("t", "r0") is None  # its view stays in the first segment
        write_many(s, 100)
        s.backend._join_syncer()
        assert names(root)[0].endswith(".gz")
        expected = as_tuples(s.changes(0))
        assert as_tuples(lagging.changes(0)) == expected
        assert {d["id"]: d for d in lagging.find("t")} == {d["id"]: d for d in s.find("t")}
        code = (
            "import sys, conductor_store as cs\n"
            "s = cs.open(sys.argv[1])\n"
            "print(repr([(c.seq, c.table, c.id, c.op, c.doc, c.time) for c in s.changes(0)]))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(root)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == repr(expected)


def test_a_child_forked_from_a_lagging_store_follows_the_log_again(root):
    """The parent's segment was compressed (its plain file removed) before the fork."""
    with cs.open(str(root)) as s, cs.open(str(root)) as lagging:
        assert lagging.get("t", "r0") is None  # its view stays in the first segment
        write_many(s, 100)
        s.backend._join_syncer()
        assert names(root)[0].endswith(".gz")
        expected = {d["id"]: d for d in s.find("t")}
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: commit and read through the inherited store, report, exit
            status = 1
            try:
                lagging.put("t", "child", {"ok": True})
                got = {d["id"]: d for d in lagging.find("t")}
                status = 0 if got.pop("child")["ok"] and got == expected else 2
            finally:
                os.write(write, bytes([status]))
                os._exit(0)
        os.close(write)
        assert os.read(read, 1) == b"\x00"
        os.waitpid(pid, 0)
        os.close(read)
        assert s.get("t", "child")["ok"] is True


def test_a_leftover_temporary_file_is_ignored_by_readers_and_removed_by_the_next_pass(
    root, no_background
):
    with cs.open(str(root)) as s:
        write_many(s, 30)
        before = all_changes(s)
        stray = logdir(root) / (segments.seg_name(0) + ".gz.tmp")  # of a segment since removed
        stray.write_bytes(b"\x1f\x8b torn")
        assert segments.segments(str(logdir(root)))[0] == 1
        assert all_changes(s) == before
        compress_now(s)
        assert not stray.exists()


def test_an_old_segment_is_decompressed_once_for_repeated_reads(root, no_background, monkeypatch):
    with cs.open(str(root)) as s:
        write_many(s, 60)
        mark_all_synced(s)
        compress_now(s)
        calls: list = []
        real = segments.gzip.decompress
        monkeypatch.setattr(segments.gzip, "decompress", lambda b: calls.append(1) or real(b))
        first = [as_tuples(s.changes(1, limit=5)) for _ in range(3)]  # as the pruner reads
        assert first[0] == first[1] == first[2] and len(first[0]) == 5 and calls == [1]
        gz = logdir(root) / names(root)[0]
        copy = gz.read_bytes()
        gz.unlink()
        gz.write_bytes(copy)  # another file now (as a redone compression leaves it)
        assert as_tuples(s.changes(1, limit=5)) == first[0] and calls == [1, 1]
