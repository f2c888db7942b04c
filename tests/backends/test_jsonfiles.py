"""Behaviour specific to the JSON-files backend (the shared conformance suite covers the API).

Crash safety (kill -9 at random moments), no lost updates across processes and threads,
readers never seeing half a commit, corruption handling, recovery of torn / unfinished logs,
log segments, permissions, layout, options.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import conductor_store as cs
from conductor_store import (
    BackendUnavailableError,
    ConflictError,
    CorruptRecordError,
    ValidationError,
    Write,
)
from conductor_store.backends import jsonfiles
from conductor_store.backends.jsonfiles import JsonBackend
from conductor_store.backends.jsonfiles.segments import read_segment, seg_name, segments

from . import jsonfiles_child as child

CHILD = str(Path(__file__).with_name("jsonfiles_child.py"))


# -- helpers ---------------------------------------------------------------------------------
def project_dir(root: Path, project: str = "default") -> Path:
    return root / project


def logdir(root: Path, project: str = "default") -> str:
    return str(project_dir(root, project) / ".meta" / "log")


def segment_bytes(root: Path, project: str = "default") -> list[tuple[int, bytes]]:
    """(first seq, bytes) of every segment, compressed or not, through the one reader."""
    where = logdir(root, project)
    return [(first, read_segment(where, first)[1]) for first in segments(where)]


def log_lines(root: Path, project: str = "default") -> list[bytes]:
    return [line for _, data in segment_bytes(root, project) for line in data.splitlines(True)]


def last_segment(root: Path, project: str = "default") -> Path:
    return sorted((project_dir(root, project) / ".meta" / "log").glob("*.jsonl"))[-1]


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, CHILD, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"child did not start: {line!r} {proc.stderr.read()}")


def all_records(store: cs.Store) -> dict:
    return {(t, d["id"]): d for t in store.tables() for d in store.find(t)}


def check_bank(root: Path, *, durable: bool = True) -> list[int]:
    """Open the store (recovering it) and check every invariant of the bank workload; returns
    each writer's transaction count."""
    with cs.open(str(root), durable=durable) as store:
        # no torn record file, nothing but record files in the table directories
        for table in ("batch", "acct", "hist"):
            for path in (project_dir(root) / table).iterdir():
                assert path.suffix == ".json", path
                with open(path, "rb") as f:
                    doc = json.load(f)
                assert doc["id"] == path.stem and doc["_version"] >= 1, path
        ns = []
        batch = {d["id"]: d for d in store.find("batch")}
        hist = {d["id"] for d in store.find("hist")}
        for k in range(child.WRITERS):
            n = batch[f"state{k}"]["n"]
            ns.append(n)
            assert {batch[i]["tx"] for i in child.batch_ids(k)} == {n}, "a transaction is torn"
            assert {h for h in hist if h.startswith(f"h{k}_")} == {
                f"h{k}_{i:06d}" for i in range(max(1, n - child.HISTORY + 1), n + 1)
            }
        assert len(batch) == child.WRITERS * (child.BATCH + 1)
        assert sum(d["bal"] for d in store.find("acct")) == child.ACCOUNTS * child.BALANCE
        # the change log: each transaction's changes together (its state record first), in
        # order, under dense numbers (the two writers' transactions may share one: group
        # commit), and replaying it gives the data
        changes = store.changes()
        seqs = [c.seq for c in changes]
        assert seqs == sorted(seqs)
        per_commit: dict = {}
        for c in changes:
            per_commit.setdefault(c.seq, []).append(c)
        assert sorted(per_commit) == list(range(1, len(per_commit) + 1))
        transactions = 0
        for seq, chs in list(per_commit.items())[1:]:
            while chs:
                tx_n = chs[0].doc["n"]
                assert chs[0].id.startswith("state") and tx_n >= 1
                size = 1 + child.BATCH + 2 + 1 + (tx_n > child.HISTORY)
                assert not [c for c in chs[1:size] if c.id.startswith("state")], seq
                chs, transactions = chs[size:], transactions + 1
        assert transactions == sum(ns)
        replayed: dict = {}
        for c in changes:
            if c.op == "delete":
                del replayed[(c.table, c.id)]
            else:
                replayed[(c.table, c.id)] = c.doc
        assert replayed == all_records(store)
    # the log itself: whole JSON lines; each full segment points to the next one; the last
    # line closes the last commit (or points to a new, still empty segment). A writer killed
    # while starting a segment may leave it empty and not pointed to: it is not used.
    segs = segment_bytes(root)
    while (
        len(segs) > 1
        and not segs[-1][1]
        and json.loads(segs[-2][1].splitlines()[-1]) != {"next": seg_name(segs[-1][0])}
    ):
        segs.pop()
    for (_, data), (nxt, _) in zip(segs, segs[1:]):
        assert json.loads(data.splitlines()[-1]) == {"next": seg_name(nxt)}
    lines = [line for _, data in segs for line in data.splitlines(True)]
    assert all(line.endswith(b"\n") for line in lines)
    parsed = [json.loads(line) for line in lines]
    assert "done" in parsed[-1] or not segs[-1][1]
    return ns


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(root):
    with cs.open(str(root)) as s:
        yield s


# -- crash safety ----------------------------------------------------------------------------
def start(*procs: subprocess.Popen) -> None:
    """Let ready children go, and wait until each says it has committed (and goes on)."""
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        line = proc.stdout.readline()
        if line.strip() != "started":
            proc.kill()
            raise AssertionError(f"child did not commit: {line!r} {proc.stderr.read()}")


def reap(proc: subprocess.Popen) -> int:
    proc.wait()
    for f in (proc.stdin, proc.stdout, proc.stderr):
        f.close()
    return proc.returncode


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_whole_transactions(root):
    """Two writer processes commit multi-record transactions (durable and not, with log
    segments switching often) and are killed with SIGKILL at random moments, 40 times; after
    every kill the store opens and every transaction is wholly there or wholly absent, with a
    change log that matches the data. Every other round one writer is killed first while the
    other keeps going (and must finish the dead one's commit) and this process reads
    consistent snapshots meanwhile."""
    with cs.open(str(root)) as store:
        child.setup_bank(store)
    rng = random.Random(1234)
    kills, rounds, last = 0, 20, [0, 0]
    total = child.ACCOUNTS * child.BALANCE

    def pair(i: int) -> list:  # started ahead of their round: imports overlap the previous one
        durable = ("1" if i % 2 else "0", "1" if i % 3 else "0")
        return [
            spawn("bank", str(root), str(k), durable[k], str(rng.randrange(1 << 30)))
            for k in range(2)
        ]

    upcoming = pair(0)
    for i in range(rounds):
        procs = upcoming
        for p in procs:
            wait_ready(p)
        start(*procs)
        upcoming = pair(i + 1) if i + 1 < rounds else []
        time.sleep(rng.uniform(0, 0.06))
        victim = rng.randrange(2)
        procs[victim].send_signal(signal.SIGKILL)
        kills += 1
        if i % 2:  # read while the survivor commits over the dead writer's leftovers
            procs[victim].wait()
            with cs.open(str(root)) as reader:
                for _ in range(10):
                    for k in range(2):
                        got = reader.get_many("batch", [f"state{k}"] + child.batch_ids(k))
                        assert {d["tx"] for d in got[1:]} == {got[0]["n"]}
                    assert sum(d["bal"] for d in reader.find("acct")) == total
            time.sleep(rng.uniform(0, 0.02))
        procs[1 - victim].send_signal(signal.SIGKILL)
        kills += 1
        assert [reap(p) for p in procs] == [-signal.SIGKILL] * 2
        ns = check_bank(root)
        assert all(n > m for n, m in zip(ns, last))  # each writer committed; nothing was lost
        last = ns
    assert kills == 2 * rounds
    assert len(segments(logdir(root))) > 1


def test_torn_log_tail_is_cut_on_open(root):
    with cs.open(str(root)) as s:
        s.insert("t", {"a": 1}, id="x")
    seg = last_segment(root)
    size = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(b'{"seq":2,"changes":[{"table":"t","id":"y","op":"ins')  # a writer died here
    with cs.open(str(root)) as s:
        assert seg.stat().st_size == size
        assert s.get("t", "y") is None
        assert [c.seq for c in s.changes()] == [1]
        s.insert("t", {"a": 2}, id="y")
        assert [c.seq for c in s.changes()] == [1, 2]
    assert all(json.loads(line) for line in log_lines(root))


def _undone_commit(root: Path, seq: int, changes: list) -> None:
    """Append a whole commit line without its done line: a writer killed after its commit
    point, before (or while) writing the record files."""
    line = {"seq": seq, "changes": changes}
    with open(last_segment(root), "ab") as f:
        f.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")


def test_unfinished_commit_is_finished_on_open(root):
    with cs.open(str(root)) as s:
        s.insert("t", {"a": 1}, id="x")
        s.insert("t", {"a": 1}, id="gone")
    _undone_commit(
        root,
        3,
        [
            {"table": "t", "id": "x", "op": "update", "doc": {"id": "x", "_version": 2, "a": 2}},
            {
                "table": "t",
                "id": "new",
                "op": "insert",
                "doc": {"id": "new", "_version": 1, "b": 1},
            },
            {"table": "t", "id": "gone", "op": "delete", "doc": None},
        ],
    )
    (project_dir(root) / "t" / "x.json").write_text('{"id": "x", "_ver')  # torn mid-write
    with cs.open(str(root)) as s:
        assert s.get("t", "x") == {"id": "x", "_version": 2, "a": 2}
        assert s.get("t", "new") == {"id": "new", "_version": 1, "b": 1}
        assert s.get("t", "gone") is None
        assert [c.seq for c in s.changes()] == [1, 2, 3, 3, 3]
        assert s.insert("t", {}, id="next")["_version"] == 4  # the seq of its commit
        assert s.changes(3)[0].seq == 4
    assert json.loads(log_lines(root)[-1]) == {"done": 4}


def test_reader_finishes_a_dead_writers_commit(root):
    """A store already open finds a commit whose writer died (lock free, no done line): its
    next read recovers it rather than answering from the half-written files."""
    with cs.open(str(root)) as s:
        s.insert("t", {"a": 1}, id="x")
        s.insert("t", {"a": 1}, id="y")
        assert s.get("t", "x")["a"] == 1
        other = cs.open(str(root))
        _undone_commit(
            root,
            3,
            [
                {
                    "table": "t",
                    "id": "x",
                    "op": "update",
                    "doc": {"id": "x", "_version": 2, "a": 2},
                },
                {
                    "table": "t",
                    "id": "y",
                    "op": "update",
                    "doc": {"id": "y", "_version": 2, "a": 2},
                },
            ],
        )
        (project_dir(root) / "t" / "y.json").write_text("")  # torn by the kill
        # the fresh store has nothing cached: it must wait for (here: recover) the commit
        assert other.get_many("t", ["y", "x"]) == [
            {"id": "y", "_version": 2, "a": 2},
            {"id": "x", "_version": 2, "a": 2},
        ]
        assert s.get("t", "y")["a"] == 2
        other.close()
    assert json.loads(log_lines(root)[-1]) == {"done": 3}


def test_exception_after_the_commit_point_finishes_the_commit(root, monkeypatch):
    """An exception between the commit point and the done line (say KeyboardInterrupt while
    the record files are written): the commit is in the log, so it is finished before the
    exception propagates -- and nobody saw it half done."""
    with cs.open(str(root)) as s:
        with s.transaction() as tx:
            tx.insert("t", {"v": 1}, id="a")
            tx.insert("t", {"v": 1}, id="b")
        assert [d["v"] for d in s.find("t")] == [1, 1]
        real = JsonBackend._write_record
        calls = []

        def dying(self, table, id, *args):
            calls.append(id)
            if len(calls) == 2:
                raise KeyboardInterrupt("interrupted mid-commit")
            return real(self, table, id, *args)

        monkeypatch.setattr(JsonBackend, "_write_record", dying)
        with pytest.raises(KeyboardInterrupt):
            with s.transaction() as tx:
                tx.put("t", "a", {"v": 2})
                tx.put("t", "b", {"v": 2})
        assert [d["v"] for d in s.get_many("t", ["a", "b"])] == [2, 2]
        assert [d["v"] for d in s.find("t")] == [2, 2]
    assert json.loads(log_lines(root)[-1]) == {"done": 2}


def test_a_reader_with_everything_cached_finishes_a_dead_writers_commit(root, monkeypatch):
    """Readers answer around a pending commit from their cache; when it stays pending and the
    lock is free (its writer died), a reader finishes it rather than hiding it forever."""
    monkeypatch.setattr(jsonfiles, "STALE_PENDING_SECONDS", 0.0)
    with cs.open(str(root)) as s:
        s.insert("t", {"a": 1}, id="x")
        assert s.get("t", "x")["a"] == 1 and s.find("t")[0]["a"] == 1
        _undone_commit(
            root,
            2,
            [{"table": "t", "id": "x", "op": "update", "doc": {"id": "x", "_version": 2, "a": 2}}],
        )
        s.get("t", "x")  # sees the pending commit (and, it being stale, finishes it)
        assert s.get("t", "x") == {"id": "x", "_version": 2, "a": 2}
        assert s.find("t")[0]["a"] == 2
    assert json.loads(log_lines(root)[-1]) == {"done": 2}


def test_pending_commit_is_invisible_until_done(root, monkeypatch):
    """While a writer is between its commit point and its done line (paused here, with one of
    two record files rewritten), readers see the state before it -- get, get_many, find,
    count -- and a reader with nothing cached waits and then sees the whole commit."""
    with cs.open(str(root)) as s:
        with s.transaction() as tx:
            tx.insert("t", {"v": 1}, id="a")
            tx.insert("t", {"v": 1}, id="b")
        watcher = cs.open(str(root))
        assert [d["v"] for d in watcher.find("t")] == [1, 1]  # caches the table
        real = JsonBackend._write_record
        written = threading.Event()
        release = threading.Event()

        def slow(self, table, id, *args):
            key = real(self, table, id, *args)
            if self is s.backend and id == "a":
                written.set()
                release.wait(10)
            return key

        monkeypatch.setattr(JsonBackend, "_write_record", slow)
        outcome: list = []
        writer = threading.Thread(target=lambda: outcome.append(_commit_ab(s)))
        writer.start()
        assert written.wait(10)
        assert json.loads((project_dir(root) / "t" / "a.json").read_text())["v"] == 2  # on disk
        assert watcher.get("t", "a")["v"] == 1
        assert [d["v"] for d in watcher.get_many("t", ["a", "b"])] == [1, 1]
        assert [d["v"] for d in watcher.find("t")] == [1, 1]
        assert watcher.get("t", "c") is None  # the pending commit inserts it
        assert watcher.count("t", {"v": 2}) == 0
        # the writer's own store, in another thread, loads the table meanwhile: the commit
        # must still land in that cache when it finishes
        loaded: list = []
        loader = threading.Thread(target=lambda: loaded.append(s.find("t")))
        loader.start()
        loader.join(10)
        assert [d["v"] for d in loaded[0]] == [1, 1]
        fresh = cs.open(str(root))
        result = []
        reader = threading.Thread(target=lambda: result.append(fresh.get("t", "a")))
        reader.start()
        release.set()
        reader.join(10)
        writer.join(10)
        assert result == [{"id": "a", "_version": 2, "v": 2}]
        assert outcome == [2]
        assert [d["v"] for d in watcher.find("t")] == [2, 2, 3]
        assert [d["v"] for d in s.find("t")] == [2, 2, 3]
        assert watcher.get("t", "b")["v"] == 2
        watcher.close()
        fresh.close()


def _commit_ab(s: cs.Store) -> int:
    tx = s.transaction()
    tx.put("t", "a", {"v": 2})
    tx.put("t", "b", {"v": 2})
    tx.insert("t", {"v": 3}, id="c")
    return tx.commit()


def test_reboot_replays_the_current_segment(root):
    """After a power cut record files written since the last segment switch may be lost or
    torn; an open under another boot id rewrites them from the log."""
    with cs.open(str(root)) as s:
        s.insert("t", {"a": 1}, id="x")
        s.update("t", "x", {"a": 2})
        s.insert("t", {"b": 1}, id="y")
        s.delete("t", "y")
        s.insert("t", {"c": 1}, id="z")
    (project_dir(root) / "t" / "x.json").write_text("")  # lost data blocks
    (project_dir(root) / "t" / "z.json").unlink()  # lost directory entry
    # a deleted record's file came back (its unlink was lost)
    (project_dir(root) / "t" / "y.json").write_text('{"id": "y", "_version": 1, "b": 1}')
    (project_dir(root) / ".meta" / "boot").write_text("another-boot\n")
    with cs.open(str(root)) as s:
        assert s.get("t", "x") == {"id": "x", "_version": 2, "a": 2}
        assert s.get("t", "y") is None
        assert s.get("t", "z") == {"id": "z", "_version": 5, "c": 1}
    boot = jsonfiles._boot_id()
    if boot is not None:
        assert (project_dir(root) / ".meta" / "boot").read_text().strip() == boot


# -- concurrency -----------------------------------------------------------------------------
@pytest.mark.slow
def test_no_lost_updates_across_processes(root):
    """N processes x M atomic increments of one counter: nothing lost, one commit each."""
    procs_n, each = 4, 40
    with cs.open(str(root)) as s:
        s.insert("counter", {"n": 0}, id="c")
    procs = [spawn("incr", str(root), str(each)) for _ in range(procs_n)]
    for p in procs:
        wait_ready(p)
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    with cs.open(str(root)) as s:
        total = procs_n * each
        assert s.get("counter", "c") == {"id": "c", "_version": total + 1, "n": total}
        changes = s.changes()
        assert len(changes) == procs_n * each + 1
        assert [c.seq for c in changes] == list(range(1, procs_n * each + 2))
        assert [c.doc["n"] for c in changes] == list(range(procs_n * each + 1))


@pytest.mark.parametrize("lock", ["flock", "filelock"])
def test_no_lost_updates_across_threads_and_stores(root, monkeypatch, lock):
    """Threads sharing one store and threads on a second store opened on the same location
    in the same process (two file locks on one file) increment one counter -- with the flock
    lock and with the filelock.FileLock fallback used where there is no fcntl."""
    if lock == "filelock":
        monkeypatch.setattr(jsonfiles, "_LOCK_CLASS", jsonfiles._FileLockLock)
    a = cs.open(str(root))
    b = cs.open(str(root))
    a.insert("counter", {"n": 0}, id="c")
    per_thread, errors = 50, []

    def increment(t):
        return t.update("counter", "c", {"n": t.get("counter", "c")["n"] + 1})

    def work(store):
        try:
            for _ in range(per_thread):
                store.atomic(increment, retries=10_000)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (a, a, b, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert a.get("counter", "c")["n"] == 4 * per_thread
    assert b.get("counter", "c")["n"] == 4 * per_thread
    assert len(b.changes()) == 4 * per_thread + 1
    a.close()
    b.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_lock(store, root):
    """After fork the child must not share the parent's lock (flock belongs to the open file
    description, which fork shares): it commits on a lock of its own, and both sides agree."""
    store.insert("t", {"n": 0}, id="c")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            store.backend._flock.acquire()  # the parent's description would be re-entered here
            store.backend._flock.release()
            store.update("t", "c", {"n": 1})
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get("t", "c")["n"] == 1
    with store.backend._wlock:  # while the parent holds its lock a child could not commit
        assert store.backend._flock.acquire(blocking=False)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            store.get("t", "c")  # any call notices the fork
            os._exit(0 if store.backend._try_lock() is False else 1)
        _, status = os.waitpid(pid, 0)
        store.backend._flock.release()
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.update("t", "c", {"n": 2})["_version"] == 3


def test_the_writers_lock_is_the_one_filelock_takes(store, root):
    """Tools that take ``filelock.FileLock`` on ``.meta/lock`` exclude our writers and the
    other way round (the same flock)."""
    import filelock

    other = filelock.FileLock(str(project_dir(root) / ".meta" / "lock"))
    with other:
        assert store.backend._flock.acquire(blocking=False) is False
    assert store.backend._flock.acquire(blocking=False) is True
    with pytest.raises(filelock.Timeout):
        other.acquire(timeout=0)
    store.backend._flock.release()
    with other.acquire(timeout=0):
        pass


@pytest.mark.slow
def test_readers_never_see_half_a_transaction(root):
    """A writer process commits bank transactions; this process reads, lock-free, with
    find/get_many/count/successive gets, and never sees an invariant broken."""
    with cs.open(str(root)) as s:
        child.setup_bank(s)
    writer = spawn("bank", str(root), "0", "0", "7")
    try:
        wait_ready(writer)
        start(writer)
        ids = child.batch_ids(0)
        total = child.ACCOUNTS * child.BALANCE
        with cs.open(str(root)) as reader:
            first = reader.get("batch", "state0")["n"]
            errors: list = []

            def read_loop(store, stop):
                try:
                    while not stop():
                        got = store.get_many("batch", ["state0"] + ids)
                        assert {d["tx"] for d in got[1:]} == {got[0]["n"]}
                        assert sum(d["bal"] for d in store.find("acct")) == total
                        ns = [d["n"] for d in store.find("hist")]  # the last HISTORY txs
                        assert ns == list(range(ns[-1] - len(ns) + 1, ns[-1] + 1)) if ns else True
                        assert len(ns) == min(ns[-1], child.HISTORY) if ns else True
                        assert store.count("hist") <= child.HISTORY
                        batch = store.find("batch", "id LIKE 'b0_%'")
                        assert len(batch) == child.BATCH and len({d["tx"] for d in batch}) == 1
                        # successive single gets: never an older transaction after a newer one
                        seen = 0
                        for j in ids:
                            tx = store.get("batch", j)["tx"]
                            assert tx >= seen
                            seen = tx
                        assert store.get("batch", "state0")["n"] >= seen
                except BaseException as exc:
                    errors.append(exc)

            t_end = time.monotonic() + 1.5

            def stop() -> bool:  # read for 1.5 s and over at least 20 commits (60 s at most)
                if time.monotonic() > t_end + 60:
                    return True
                return time.monotonic() > t_end and probe.get("batch", "state0")["n"] > first + 20

            probe = cs.open(str(root))
            second = cs.open(str(root))  # a second reader with its own cache, in a thread
            thread = threading.Thread(target=read_loop, args=(second, stop))
            thread.start()
            read_loop(reader, stop)
            thread.join(90)
            second.close()
            probe.close()
            assert not errors, errors[0]
            assert reader.get("batch", "state0")["n"] > first + 20  # the writer kept committing
    finally:
        writer.kill()
        reap(writer)
    check_bank(root)


def test_threads_read_consistently_while_one_writes(root):
    with cs.open(str(root)) as s:
        child.setup_bank(s)
        stop = threading.Event()
        errors: list = []
        total = child.ACCOUNTS * child.BALANCE

        def write():
            tx = child.bank_tx(random.Random(3), 0)
            try:
                for _ in range(150):
                    s.atomic(tx, retries=10_000)
            except BaseException as exc:  # pragma: no cover
                errors.append(exc)
            finally:
                stop.set()

        def read():
            try:
                while not stop.is_set():
                    assert sum(d["bal"] for d in s.find("acct")) == total
                    got = s.get_many("batch", child.batch_ids(0))
                    assert len({d["tx"] for d in got}) == 1
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=f) for f in (write, read, read)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[0]
        assert s.get("batch", "state0")["n"] == 150
    assert check_bank(root) == [150, 0]


# -- corruption and stray files --------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'"x"',
        b'{"id": "other", "_version": 1}',
        b'{"id": "bad", "a": 1}',
        b'{"id": "bad", "_version": true}',
        b'{"id": "bad", "_version": 0}',
        b"\xff\xfe{}",
    ],
)
def test_corrupt_record_names_its_path(store, root, content):
    store.insert("t", {"a": 1}, id="good")
    store.insert("t", {"a": 2}, id="bad")
    assert len(store.find("t")) == 2  # cached: the corruption must still be noticed
    path = project_dir(root) / "t" / "bad.json"
    path.write_bytes(content)
    with pytest.raises(CorruptRecordError) as exc:
        store.get("t", "bad")
    assert exc.value.path == str(path) and str(path) in str(exc.value)
    with pytest.raises(CorruptRecordError) as exc:
        store.find("t")
    assert exc.value.path == str(path)
    with pytest.raises(CorruptRecordError):
        store.count("t")
    assert store.get("t", "good")["a"] == 1
    with pytest.raises(CorruptRecordError):
        store.put("t", "bad", {"a": 3})  # nothing written over a record it cannot read
    with cs.open(str(root)) as fresh:  # the same from a cold cache
        with pytest.raises(CorruptRecordError) as exc:
            fresh.find("t")
        assert exc.value.path == str(path)
        assert fresh.get_many("t", ["good"])[0]["a"] == 1
    # mended by hand: seen again
    path.write_text('{"id": "bad", "_version": 7, "a": 9}')
    assert store.get("t", "bad")["a"] == 9
    assert sorted(d["a"] for d in store.find("t")) == [1, 9]
    assert store.update("t", "bad", {"a": 10})["_version"] == 8


def test_stray_files_are_ignored(store, root):
    store.insert("t", {"a": 1}, id="x")
    tdir = project_dir(root) / "t"
    strays = (
        "notes.txt",
        ".x.json.swp",
        "x.json~",
        "#x.json#",
        ".#x.json",
        "a b.json",
        "x.json.tmp",
    )
    for name in strays:
        (tdir / name).write_text("junk")
    (project_dir(root) / "not a table").mkdir()
    (project_dir(root) / "empty").mkdir()
    (project_dir(root) / "README").write_text("hello")
    with cs.open(str(root)) as fresh:
        assert [d["id"] for d in fresh.find("t")] == ["x"]
        assert fresh.count("t") == 1
        assert fresh.tables() == ["t"]
    # a directory where a record file would be is no stray: refused, naming its path, by every
    # read of it and of its table (not skipped), and before anything is written
    (tdir / "sub.json").mkdir()
    with cs.open(str(root)) as fresh:
        with pytest.raises(CorruptRecordError) as exc:
            fresh.get("t", "sub")
        assert exc.value.path == str(tdir / "sub.json")
        for read in (fresh.find, fresh.count):
            with pytest.raises(CorruptRecordError) as exc:
                read("t")
            assert exc.value.path == str(tdir / "sub.json")
        with pytest.raises(CorruptRecordError):
            fresh.put("t", "sub", {"a": 1})
        assert [c.seq for c in fresh.changes()] == [1]
        (tdir / "sub.json").rmdir()
        assert [d["id"] for d in fresh.find("t")] == ["x"]


def test_hand_edits_are_seen_by_get_at_once(store, root):
    store.insert("t", {"a": 1}, id="x")
    assert store.find("t")[0]["a"] == 1
    path = project_dir(root) / "t" / "x.json"
    path.write_text('{"id": "x", "_version": 1, "a": 2, "note": "by hand"}')
    assert store.get("t", "x")["note"] == "by hand"
    assert store.find("t")[0]["a"] == 2  # the get refreshed the cache find uses
    path.unlink()
    assert store.get("t", "x") is None
    assert store.find("t") == []


# -- log segments ---------------------------------------------------------------------------
def test_log_rotates_and_changes_span_segments(root, monkeypatch):
    monkeypatch.setattr(jsonfiles, "SEGMENT_BYTES", 2048)
    with cs.open(str(root)) as s, cs.open(str(root)) as watcher:
        assert watcher.changes() == []
        for i in range(60):
            s.put("t", f"r{i % 7}", {"i": i, "pad": "x" * 50})
            if i % 9 == 0:
                assert watcher.get("t", f"r{i % 7}")["i"] == i  # follows the segment switches
        segs = segment_bytes(root)
        assert len(segs) > 3
        assert [c.seq for c in watcher.changes()] == list(range(1, 61))
        assert [c.seq for c in watcher.changes(37)] == list(range(38, 61))
        assert [c.doc["i"] for c in watcher.changes(10, limit=3)] == [10, 11, 12]
        assert watcher.changes(60) == []
        assert sorted(d["i"] for d in watcher.find("t")) == list(range(53, 60))
        for (_, data), (nxt, _) in zip(segs, segs[1:]):  # closed segments point to the next
            assert json.loads(data.splitlines()[-1]) == {"next": seg_name(nxt)}
    with cs.open(str(root)) as again:
        assert again.insert("t", {}, id="new")["_version"] == 61
        assert again.changes(60)[0].seq == 61


# -- speed properties (counted, not timed) ---------------------------------------------------
def test_unchanged_records_are_not_parsed_again(store, root, monkeypatch):
    with store.transaction() as tx:
        for i in range(50):
            tx.insert("t", {"i": i}, id=f"r{i:03d}")
    with cs.open(str(root)) as other:
        reads = []
        real = JsonBackend._read_file

        def spy(self, table, id):
            if self is other.backend:
                reads.append(id)
            return real(self, table, id)

        monkeypatch.setattr(JsonBackend, "_read_file", spy)
        assert len(other.find("t")) == 50
        assert len(reads) == 50
        for _ in range(3):
            assert len(other.find("t", {"i": 3})) == 1
            assert other.get("t", "r007")["i"] == 7
            assert other.count("t") == 50
        assert len(reads) == 50
        store.update("t", "r007", {"i": 700})  # another store commits: the log carries the doc
        assert other.find("t", {"i": 700})[0]["id"] == "r007"
        assert len(reads) == 50


def test_a_transaction_syncs_the_log_once(store, monkeypatch):
    syncs = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: syncs.append(fd) or real(fd))
    with store.transaction() as tx:
        for i in range(100):
            tx.insert("t", {"i": i}, id=f"r{i}")
    assert len(syncs) == 1
    store.insert("t", {}, id="one")
    assert len(syncs) == 2


def test_durable_false_skips_fsync_and_keeps_data(root, monkeypatch):
    syncs = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda fd, real=real: syncs.append(fd) or real(fd))
    with cs.open(str(root)) as s:  # creating the store syncs its skeleton once
        pass
    syncs.clear()
    with cs.open(str(root), durable=False) as s:
        assert s.info()["durable"] is False
        with s.transaction() as tx:
            for i in range(10):
                tx.insert("t", {"i": i}, id=f"r{i}")
        s.update("t", "r1", {"i": 100})
    assert syncs == []
    with cs.open(str(root)) as s:
        assert s.get("t", "r1")["i"] == 100
        assert s.count("t") == 10
        assert s.info()["durable"] is True


# -- semantics at the backend interface ------------------------------------------------------
def test_commit_checks_against_other_processes_state(root):
    """Versions are checked against the files, not this process's cache."""
    a, b = cs.open(str(root)), cs.open(str(root))
    a.insert("t", {"v": 1}, id="x")
    assert b.get("t", "x")["_version"] == 1
    a.update("t", "x", {"v": 2})
    with pytest.raises(ConflictError):
        b.backend.commit([Write("put", "t", "x", {"v": 9})], {("t", "x"): 1})
    with pytest.raises(ConflictError):  # a check-only commit too
        b.backend.commit([], {("t", "x"): 1})
    assert b.backend.commit([], {("t", "x"): 2}).seq is None
    assert b.get("t", "x")["v"] == 2
    r = b.backend.commit([Write("delete", "t", "nope")], {})
    assert r == (None, [None])
    assert [c.seq for c in a.changes()] == [1, 2]
    a.close()
    b.close()


def test_writes_are_validated_by_the_store_before_the_backend(store):
    """The Store is the one place that validates tables, ids and documents (base.py: backends
    may assume validated input); bad ones never reach the files."""
    for table, id, doc in (("T", "x", {}), ("t", "../x", {}), ("t", "x", None)):
        with pytest.raises(ValidationError):
            store.put(table, id, doc)
    assert store.tables() == []
    assert not list(Path(store.backend._dir).glob("**/*.json"))


# -- layout, permissions, options ------------------------------------------------------------
def test_layout_is_one_readable_file_per_record(root):
    with cs.open(f"json://{root}", project="proj-1") as s:
        s.insert("tasks", {"title": "Write parser", "tags": ["a"], "é": "ü"}, id="T1")
        s.update("tasks", "T1", {"done": True})
    path = root / "proj-1" / "tasks" / "T1.json"
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    assert doc == {
        "id": "T1",
        "_version": 2,
        "title": "Write parser",
        "tags": ["a"],
        "é": "ü",
        "done": True,
    }
    assert "ü" in path.read_text(encoding="utf-8")  # readable, not \u-escaped
    meta = root / "proj-1" / ".meta"
    assert (meta / "lock").exists()
    assert [p.name for p in (meta / "log").iterdir()] == ["00000000000000000001.jsonl"]
    first = json.loads(log_lines(root, "proj-1")[0])
    assert first["seq"] == 1 and first["changes"][0]["doc"]["title"] == "Write parser"
    with cs.open(str(root), project="other") as s:
        assert s.tables() == []


def test_modes_are_0700_and_0600_whatever_the_umask(tmp_path):
    for umask, name in ((0o000, "open"), (0o077, "strict"), (0o022, "usual")):
        old = os.umask(umask)
        try:
            root = tmp_path / name / "data"
            with cs.open(str(root)) as s:
                s.insert("t", {"a": 1}, id="x")
                s.put("t", "x", {"a": 2})
        finally:
            os.umask(old)
        for dirpath, _dirnames, filenames in os.walk(tmp_path / name / "data"):
            assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
            for f in filenames:
                assert stat.S_IMODE(os.stat(os.path.join(dirpath, f)).st_mode) == 0o600, f


def test_url_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for url, where in (
        (f"json://{tmp_path}/abs", tmp_path / "abs"),
        ("json://rel/dir", tmp_path / "rel" / "dir"),
        ("plain/dir", tmp_path / "plain" / "dir"),
        ("~/store", tmp_path / "home" / "store"),
        ("json://~/store2", tmp_path / "home" / "store2"),
    ):
        with cs.open(url) as s:
            s.insert("t", {}, id="x")
            assert s.info()["path"] == str(where)
            assert s.info()["url"] == url
            assert s.info()["backend"] == "json"
        assert (where / "default" / "t" / "x.json").exists()


def test_bad_options_and_paths(tmp_path):
    with pytest.raises(ValidationError, match="colour"):
        cs.open(str(tmp_path / "a"), colour="red")
    with pytest.raises(ValidationError, match="durable"):
        cs.open(str(tmp_path / "a"), durable="yes")
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(BackendUnavailableError, match=str(afile)):
        cs.open(str(afile))
    with pytest.raises(BackendUnavailableError, match="afile"):
        cs.open(str(afile / "below"))
    with pytest.raises(BackendUnavailableError):
        cs.open("json://")
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(BackendUnavailableError, match="locked"):
            cs.open(str(locked / "data"))


# -- versions and commit times ----------------------------------------------------------------
def test_version_is_the_seq_of_the_commit_that_last_wrote_the_record(store):
    assert store.insert("t", {"v": 1}, id="a")["_version"] == 1
    store.insert("t", {}, id="other")
    assert store.update("t", "a", {"v": 2})["_version"] == 3
    assert [(c.seq, c.doc["_version"]) for c in store.changes() if c.id == "a"] == [(1, 1), (3, 3)]


def test_delete_and_recreate_never_repeats_a_version_aba(root):
    """A transaction reads R; meanwhile R is deleted and created again: the transaction's
    commit must fail (the re-created record's _version is new), as must a put carrying the
    _version read before the delete."""
    with cs.open(str(root)) as s, cs.open(str(root)) as other:
        s.insert("t", {"v": 1}, id="r")
        tx = s.transaction()
        seen = tx.get("t", "r")
        tx.update("t", "r", {"v": seen["v"] + 1})
        other.delete("t", "r")
        recreated = other.insert("t", {"v": 100}, id="r")
        assert recreated["_version"] != seen["_version"]
        with pytest.raises(ConflictError):
            tx.commit()
        with pytest.raises(ConflictError):
            s.put("t", "r", {"v": 7, "_version": seen["_version"]})
        assert s.get("t", "r") == recreated


def test_changes_carry_the_commit_time(store):
    before = time.time()
    store.insert("t", {}, id="a")
    with store.transaction() as tx:
        tx.put("t", "b", {})
        tx.delete("t", "a")
    after = time.time()
    changes = store.changes()
    assert [c.op for c in changes] == ["insert", "insert", "delete"]
    assert all(before <= c.time <= after for c in changes)
    assert changes[0].time <= changes[1].time == changes[2].time


def test_quarantine_moves_a_corrupt_record_out_of_the_way(tmp_path):
    """A record file that does not parse makes its table unreadable; store.quarantine moves it
    into <project>/.quarantine/<table>/ (nothing deleted) and the table reads again."""
    url = f"json://{tmp_path}/data"
    with cs.open(url) as store:
        store.insert("tasks", {"v": 1}, id="good")
        store.insert("tasks", {"v": 2}, id="bad")
        path = tmp_path / "data" / "default" / "tasks" / "bad.json"
        path.write_text("{not json")
        with pytest.raises(cs.CorruptRecordError):
            store.find("tasks")
        moved = store.quarantine("tasks", "bad")
        assert [d["id"] for d in store.find("tasks")] == ["good"]
        assert open(moved).read() == "{not json" and not path.exists()
        with pytest.raises(cs.NotFoundError):
            store.quarantine("tasks", "bad")
