"""Table snapshots of the JSON backend (``.meta/snapshot/<table>``): a reopened table is
served from its snapshot wherever a record file's stat key is unchanged and no commit after the
snapshot touched it -- and only there. Hand edits, deleted and added files, commits that leave a
file's stat key as it was, a pruned log, corrupt, foreign and symlinked snapshots: every answer
is what the record files and the log say."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

import conductor_store as cs
from conductor_store import CorruptRecordError
from conductor_store.backends.jsonfiles import snapshot
from conductor_store.backends.jsonfiles.snapshot import decode_snapshot, settled

N = 30
HOUR = 3600 * 10**9


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "MIN_PARSED", 1)  # any load that parsed a file saves one
    return tmp_path / "data"


def open_store(root):
    return cs.open(f"json://{root}", project="p")


def record_path(root, id: str, table: str = "t") -> str:
    return os.path.join(root, "p", table, f"{id}.json")


def snap_path(root, table: str = "t") -> str:
    return os.path.join(root, "p", ".meta", "snapshot", table)


def age(path: str, by: int = HOUR) -> None:
    """Give a file an mtime well in the past (records written "a while ago")."""
    then = time.time_ns() - by
    os.utime(path, ns=(then, then))


def build(root, n: int = N, table: str = "t") -> dict:
    """A store with ``n`` aged records and a snapshot of them; returns the docs by id."""
    with open_store(root) as store:
        tx = store.transaction()
        for i in range(n):
            tx.insert(table, {"status": "todo", "i": i}, id=f"r{i:03d}")
        tx.commit()
    for i in range(n):
        age(record_path(root, f"r{i:03d}", table))
    with open_store(root) as store:
        docs = {d["id"]: d for d in store.find(table)}
    assert len(saved(root, table).docs) == n
    return docs


def saved(root, table: str = "t"):
    with open(snap_path(root, table), "rb") as f:
        return decode_snapshot(f.read(), table)


def reopen_find(root, monkeypatch, table: str = "t") -> tuple[dict, int]:
    """A reopened store's first find: (docs by id, record files it parsed). No snapshot is
    written meanwhile (so that the count is the load's own)."""
    monkeypatch.setattr(snapshot, "MIN_PARSED", 10**9)
    with open_store(root) as store:
        docs = {d["id"]: d for d in store.find(table)}
        parsed = store.backend._tables[table].parsed
    monkeypatch.setattr(snapshot, "MIN_PARSED", 1)
    return docs, parsed


def hand_write(path: str, doc: dict) -> None:
    with open(path, "w") as f:  # in place: same inode
        json.dump(doc, f)


def test_reopen_serves_the_snapshot_and_parses_no_file(root, monkeypatch):
    docs = build(root)
    got, parsed = reopen_find(root, monkeypatch)
    assert got == docs
    assert parsed == 0


def test_snapshot_file_is_private_and_holds_its_position(root):
    build(root)
    st = os.lstat(snap_path(root))
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(os.path.dirname(snap_path(root))).st_mode) == 0o700
    with open_store(root) as store:
        assert saved(root).seq == store.backend._last_seq


def test_hand_edits_deleted_and_added_files_are_seen_after_reopen(root, monkeypatch):
    docs = build(root)
    edited = dict(docs["r001"], status="done")  # same size: only the mtime tells
    hand_write(record_path(root, "r001"), edited)
    os.unlink(record_path(root, "r002"))
    added = {"id": "x9", "_version": 1, "status": "new"}
    hand_write(record_path(root, "x9"), added)
    got, parsed = reopen_find(root, monkeypatch)
    want = dict(docs, r001=edited, x9=added)
    del want["r002"]
    assert got == want
    assert parsed == 2  # the edited and the added file, nothing else


def test_a_primed_cache_follows_hand_edits_as_the_cache_does(root, monkeypatch):
    docs = build(root)
    with open_store(root) as store:
        assert len(store.find("t")) == N  # served from the snapshot
        hand_write(record_path(root, "r004"), dict(docs["r004"], status="gone"))
        assert store.get("t", "r004")["status"] == "gone"  # get checks the file's stat key
        assert [d["id"] for d in store.find("t", {"status": "gone"})] == ["r004"]


def test_corrupt_record_file_stays_an_error_after_reopen(root, monkeypatch):
    build(root)
    with open(record_path(root, "r005"), "w") as f:
        f.write("{not json")
    with open_store(root) as store, pytest.raises(CorruptRecordError, match="r005"):
        store.find("t")
    with open_store(root) as store, pytest.raises(CorruptRecordError, match="r005"):
        store.find("t")  # (the snapshot written meanwhile does not hide it)


def keep_key(path: str, change) -> None:
    """Run ``change()`` (a commit rewriting the file in place with the same size), then put
    the file's mtime back: its stat key is what it was, only the log tells it changed."""
    st = os.lstat(path)
    change()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.lstat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
    )


def test_commit_after_the_snapshot_that_keeps_the_stat_key_is_seen(root, monkeypatch):
    docs = build(root)
    monkeypatch.setattr(snapshot, "MIN_PARSED", 10**9)  # the snapshot stays the old one
    with open_store(root) as store:
        keep_key(record_path(root, "r006"), lambda: store.update("t", "r006", {"status": "done"}))
        want = store.get("t", "r006")
    got, parsed = reopen_find(root, monkeypatch)
    assert got["r006"] == want != docs["r006"]
    assert parsed == 1  # the log said r006 changed; its file was read


def test_pruned_log_makes_the_snapshot_unused(root, monkeypatch):
    build(root)
    monkeypatch.setattr(snapshot, "MIN_PARSED", 10**9)
    with open_store(root) as store:
        keep_key(record_path(root, "r007"), lambda: store.update("t", "r007", {"status": "done"}))
        store.backend.prune_changes(store.backend._last_seq)
    got, parsed = reopen_find(root, monkeypatch)
    assert got["r007"]["status"] == "done"
    assert parsed == N  # the log no longer says what changed: every file was read


def test_snapshot_from_an_older_position_is_brought_up_by_the_log(root, monkeypatch):
    build(root)
    with open(snap_path(root), "rb") as f:
        old = f.read()
    with open_store(root) as store:
        keep_key(record_path(root, "r008"), lambda: store.update("t", "r008", {"status": "done"}))
        store.delete("t", "r009")
        store.insert("t", {"status": "todo", "i": 99}, id="r099")
        want = {d["id"]: d for d in store.find("t")}  # (writes a newer snapshot)
    assert saved(root).seq > decode_snapshot(old, "t").seq
    with open(snap_path(root), "wb") as f:
        f.write(old)
    got, parsed = reopen_find(root, monkeypatch)
    assert got == want
    assert parsed == 2  # r008 (told by the log) and r099 (not in the snapshot)


def corrupt_snapshot(path: str, how: str) -> None:
    with open(path, "rb") as f:
        data = f.read()
    head, body = data.split(b"\n", 1)
    if how == "flipped byte":
        i = body.index(b'"todo"') + 2
        data = head + b"\n" + body[:i] + b"X" + body[i + 1 :]
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = b""
    elif how == "not json":
        data = b"\x00\xff garbage\n" * 3
    elif how == "other format":
        meta = json.loads(head)
        data = json.dumps(dict(meta, format=meta["format"] + 1)).encode() + b"\n" + body
    elif how == "other table":
        meta = json.loads(head)
        data = json.dumps(dict(meta, table="u")).encode() + b"\n" + body
    with open(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize(
    "how", ["flipped byte", "truncated", "empty", "not json", "other format", "other table"]
)
def test_corrupt_snapshot_is_ignored_and_replaced(root, monkeypatch, how):
    docs = build(root)
    corrupt_snapshot(snap_path(root), how)
    assert saved(root) is None
    with open_store(root) as store:
        assert {d["id"]: d for d in store.find("t")} == docs
        assert store.backend._tables["t"].parsed == 0  # reset by writing a new snapshot
    assert saved(root) is not None and len(saved(root).docs) == N


def test_symlinked_snapshot_is_refused_and_replaced(root, monkeypatch, tmp_path):
    docs = build(root)
    elsewhere = tmp_path / "elsewhere"
    os.replace(snap_path(root), elsewhere)
    before = elsewhere.read_bytes()
    os.symlink(elsewhere, snap_path(root))
    got, parsed = reopen_find(root, monkeypatch)
    assert got == docs
    assert parsed == N  # not read through the link
    with open_store(root) as store:
        store.find("t")  # rewrites it: the link is replaced, its target left alone
    assert not os.path.islink(snap_path(root))
    assert elsewhere.read_bytes() == before


def test_symlinked_snapshot_directory_is_neither_read_nor_written(root, monkeypatch, tmp_path):
    docs = build(root)
    outside = tmp_path / "outside"
    os.replace(os.path.dirname(snap_path(root)), outside)
    os.symlink(outside, os.path.dirname(snap_path(root)))
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    hand_write(record_path(root, "r010"), dict(docs["r010"], status="edited"))
    got, parsed = reopen_find(root, monkeypatch)
    assert got["r010"]["status"] == "edited"
    assert parsed == N
    with open_store(root) as store:
        store.find("t")
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before


def test_unwritable_snapshot_place_is_no_error(root):
    with open_store(root) as store:
        store.insert("t", {"a": 1}, id="a")
    with open(os.path.dirname(snap_path(root)), "w") as f:
        f.write("a file where the directory goes")
    with open_store(root) as store:
        assert [d["id"] for d in store.find("t")] == ["a"]
    assert os.path.isfile(os.path.dirname(snap_path(root)))


def test_records_written_just_before_the_scan_are_not_saved(root, monkeypatch):
    with open_store(root) as store:
        store.insert("t", {"a": 1}, id="fresh")
        store.insert("t", {"a": 2}, id="old")
    age(record_path(root, "old"))
    with open_store(root) as store:
        store.find("t")
    assert set(saved(root).docs) == {"old"}  # "fresh" could still change under its key


def test_settled_leaves_out_racy_keys():
    since = 1_800_000_000 * 10**9 + 500_000_000
    docs = {i: {"id": i} for i in "abcdefg"}
    keys = [
        ("a", (1, 1, since - 5 * 10**9)),  # long before
        ("b", (1, 1, since - snapshot.RACY_NS - 1)),  # just outside the fine margin
        ("c", (1, 1, since - snapshot.RACY_NS)),  # inside it
        ("d", (1, 1, since + 10**6)),  # after
        ("e", (1, 1, (since // 10**9 - 1) * 10**9)),  # whole seconds, 1.5 s before: coarse
        ("f", (1, 1, (since // 10**9 - 3) * 10**9)),  # whole seconds, 3.5 s before
        ("g", None),  # from the log: no key
    ]
    assert [e[0] for e in settled(docs, keys, since)] == ["a", "b", "f"]
