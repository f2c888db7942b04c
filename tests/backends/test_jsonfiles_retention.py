"""Change-log retention on the JSON-files backend: prune_changes / pruned_through, compaction
of whole segments, the synced mark moved by a background syncfs (no commit stalls on a
segment switch), replay from that mark after a reboot, readers whose segment was removed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import conductor_store as cs
from conductor_store.backends import jsonfiles
from conductor_store.backends.jsonfiles import retention
from conductor_store.backends.jsonfiles.retention import Retention
from conductor_store.backends.jsonfiles.segments import segments as segment_firsts


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(jsonfiles, "SEGMENT_BYTES", 2048)


def segments(root: Path) -> list[int]:
    """The first seqs of the segments, in either form."""
    return segment_firsts(str(root / "default" / ".meta" / "log"))


def synced_mark(root: Path) -> int:
    return int((root / "default" / ".meta" / "synced").read_text())


def write_many(s: cs.Store, n: int) -> None:
    for i in range(n):
        s.put("t", f"r{i % 9}", {"i": i, "pad": "x" * 60})


def test_prune_forgets_changes_and_removes_whole_segments(root, small_segments, monkeypatch):
    reopened: list = []
    real_reopen = jsonfiles.JsonBackend._reopen_log
    monkeypatch.setattr(
        jsonfiles.JsonBackend, "_reopen_log", lambda self: reopened.append(1) or real_reopen(self)
    )
    with cs.open(str(root)) as s, cs.open(str(root)) as lagging:
        assert lagging.get("t", "r0") is None  # its view stays in the first segment
        write_many(s, 80)
        s.backend._join_syncer()  # wait for the background syncfs of the last switch
        before = {d["id"]: d for d in s.find("t")}
        n_segs = len(segments(root))
        assert n_segs > 4
        s.backend.prune_changes(50)
        assert s.backend.pruned_through() == 50
        assert len(segments(root)) < n_segs
        first_left = segments(root)[0]
        assert first_left <= 51  # the segment holding 51 is kept
        assert [c.seq for c in s.changes(50)] == list(range(51, 81))
        # the backend's entries <= 50 are forgotten (the Store refuses such a since)
        assert [c.seq for c in s.backend.changes(0)][0] == 51
        s.backend.prune_changes(10)  # never goes back
        assert s.backend.pruned_through() == 50
        # a store whose view was in a removed segment starts again from what is left
        assert {d["id"]: d for d in lagging.find("t")} == before
        assert reopened == [1]
        assert lagging.get("t", "r8")["i"] == 80 - 1 - (80 - 1 - 8) % 9
        assert [c.seq for c in lagging.changes(60)] == list(range(61, 81))
        lagging.put("t", "from-lagging", {})
        assert s.get("t", "from-lagging")["_version"] == 81
    with cs.open(str(root)) as again:
        assert {d["id"]: d for d in again.find("t")}.keys() == before.keys() | {"from-lagging"}
        assert again.backend.pruned_through() == 50
        assert again.changes(79)[0].seq == 80


def test_a_segment_switch_syncs_off_the_commit_path(root, small_segments, monkeypatch):
    calls: list = []
    real = retention.syncfs
    monkeypatch.setattr(
        retention, "syncfs", lambda fd: calls.append(threading.current_thread().name) or real(fd)
    )
    with cs.open(str(root)) as s:
        write_many(s, 40)
        s.backend._join_syncer()
        assert calls and set(calls) == {"conductor-store-syncfs"}
        assert synced_mark(root) == segments(root)[-1]


def test_prune_keeps_segments_whose_record_files_are_not_known_synced(
    root, small_segments, monkeypatch
):
    monkeypatch.setattr(Retention, "_background_sync", lambda self, upto: None)
    with cs.open(str(root)) as s:
        write_many(s, 40)
        n = len(segments(root))
        s.backend.prune_changes(40)
        assert len(segments(root)) == n  # nothing is known to be on disk: all kept
        assert s.backend.pruned_through() == 40
        assert [c.seq for c in s.backend.changes(38)] == []  # forgotten, though still on disk


def test_reboot_replays_every_segment_from_the_synced_mark(root, small_segments, monkeypatch):
    monkeypatch.setattr(Retention, "_background_sync", lambda self, upto: None)
    with cs.open(str(root)) as s:
        s.insert("t", {"v": "early"}, id="early")  # written in the first segment
        write_many(s, 40)
    assert len(segments(root)) > 2 and synced_mark(root) == 1
    record = root / "default" / "t" / "early.json"
    record.write_text("")  # its data blocks were lost in the power cut
    (root / "default" / ".meta" / "boot").write_text("another-boot\n")
    with cs.open(str(root)) as s:
        assert s.get("t", "early")["v"] == "early"
    assert synced_mark(root) == 42  # everything is on disk now


def test_the_change_signal_path_changes_with_every_commit(root):
    with cs.open(str(root)) as s, cs.open(str(root)) as other:
        where = Path(s.backend.change_signal_path())
        assert where.is_dir()

        def state() -> dict:
            return {p.name: p.stat().st_size for p in where.iterdir()}

        before = state()
        other.insert("t", {}, id="a")  # another store's commit
        assert state() != before
