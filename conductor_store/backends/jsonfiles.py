"""JSON files guarded by a file lock: the zero-setup default backend.

Layout (stable, meant to be read by people)::

    <root>/<project>/<table>/<id>.json       one record: {"id": ..., "_version": ..., fields...}
    <root>/<project>/.meta/lock              the writers' lock file (flock, as filelock takes it)
    <root>/<project>/.meta/boot              the boot id under which the record files were last
                                             known to hold every commit of the log (see below)
    <root>/<project>/.meta/log/<seq>.jsonl   the commit log, in segments named by their first
                                             commit number (20 digits)

Directories are created 0700 and files 0600, whatever the umask.

The commit log
--------------
The log is the redo log and the change log in one. Every commit appends one line holding the
full documents it wrote, then (after the record files are written) a short "done" line::

    {"seq":7,"changes":[{"table":"tasks","id":"T1","op":"update","doc":{...}}, ...]}
    {"done":7}

A segment ends, when it has grown past :data:`SEGMENT_BYTES`, with ``{"next":"<file name>"}``.

Commit protocol (under a ``threading.RLock`` and an exclusive ``flock`` of ``.meta/lock`` -- the
lock ``filelock.FileLock`` takes, taken directly on a descriptor kept open: see :class:`_FlockLock`;
``filelock.FileLock`` itself where there is no ``fcntl``):

1. bring this process's view up to date with the log (finishing a dead writer's commit, see
   recovery) and verify the checks and compute the new documents from the current on-disk state
   -- ``ConflictError`` / ``NotFoundError`` are raised here, before anything is written;
2. append the commit line and ``fdatasync`` it (skipped with ``durable=False``): **this is the
   commit point**;
3. write the record files in place (``open`` without ``O_TRUNC``, write, ``ftruncate``; new ones
   with ``O_EXCL``) and unlink deleted ones -- no ``fsync``: the log line can rebuild them;
4. append the done line (no fsync). A commit becomes visible to readers all at once, here.

An exception after the commit point (say ``KeyboardInterrupt``) finishes the commit from its log
line before it propagates. A commit that changes nothing takes no number and writes nothing.

Crash recovery
--------------
A process killed at any instant leaves either a torn commit line (no newline: that commit never
returned and is cut off), or a whole commit line without its done line (its record files are
rewritten from the line -- idempotently -- and the done line appended). Whoever next holds the
lock does this: every writer before it commits, every ``open``, and any reader that finds a commit
that stays undone while the lock is free.

Power cuts: the log is synced at each commit but record files are not, so when a segment is full
the writer that starts the next one first calls ``syncfs`` (every record file of every earlier
segment is then on disk). ``.meta/boot`` holds the kernel's boot id; an ``open`` that finds another
boot id (the machine restarted since) replays the whole current segment onto the record files,
syncs them and records the new boot id. Without a boot id (not Linux) every ``open`` replays the
current segment (at most ~:data:`SEGMENT_BYTES` of log).

Readers
-------
Readers never take the lock. Each process keeps a view: the log position up to which it has
applied done commits, and a cache of parsed records (per table: id -> document and the record
file's ``(inode, size, mtime_ns)``). Every read first ``fstat``s the current segment (~1 us); if it
grew, the new lines are parsed and applied to the cache (they carry full documents). A commit
whose line is there but whose done line is not yet is *pending*: its record files may be half
written, so for the records it touches a reader answers from the state before it (the cache; or
"absent" when the pending op is an insert) and, when that state is not cached, waits for the
writer (briefly polling the log, then taking the lock, which also recovers a dead writer's
commit). Any read that touched a record file checks the log again afterwards (a seqlock): commits
finished meanwhile override what was read, and a read a new pending commit may have torn is
redone. So a reader sees each commit wholly or not at all, also across successive calls.

``get`` costs one ``fstat`` of the log plus one ``stat`` of the record file: an unchanged file
is served from the cache, a changed one is re-read -- so hand edits are seen by ``get`` at once.
``find``/``count`` (:meth:`JsonBackend.scan`) list and parse a table once, then trust the commit
log for what changed: they see hand edits only after a ``get`` of that record or a reopen (a hand
edit of a record the log later overwrites is lost, as is one made before a post-reboot replay).

A record file that cannot be read back (not JSON, not an object, wrong ``id``, no positive
``_version``, not a regular file) makes every read of it -- ``get``, and ``find``/``count`` of its
table -- raise :class:`~conductor_store.errors.CorruptRecordError` with its ``path``; writes to it
raise the same before anything is written (mend or remove the file by hand). Other files in the
table directories (``notes.txt``, editor swap and backup files) are ignored.

Known limitations: POSIX only (``os.pread``; Windows is not supported yet); one machine (``flock``
and the page cache are what make lock-free reads consistent: no network filesystems); on macOS
``fsync`` does not flush the drive's cache (no ``F_FULLFSYNC``); the log keeps every version of
every record (no compaction yet); ids differing only in case collide on case-insensitive
filesystems; with ``durable=False`` a power cut may lose recent commits and leave the record
files of lost commits behind (a process crash loses nothing).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from bisect import bisect_right
from stat import S_ISREG
from typing import Any, Iterable, Optional

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from ..errors import (
    BackendUnavailableError,
    ConflictError,
    CorruptRecordError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from ..urls import split_scheme
from ..validation import ID_RE, TABLE_RE, check_id, check_table, copy_json
from .base import Backend, Change, CommitResult, Write

__all__ = ["JsonBackend", "open_backend", "SEGMENT_BYTES"]

#: a log segment is closed (and the record files synced) once it has grown past this size
SEGMENT_BYTES = 4 << 20
#: how often a writer waiting for the lock polls it, when filelock is the lock (no fcntl)
LOCK_POLL_SECONDS = 0.0005
#: a reader that has seen a commit pending this long checks whether its writer died
STALE_PENDING_SECONDS = 0.25

_SEG_RE = re.compile(r"(\d{20})\.jsonl\Z")
_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
_DIR_MODE = 0o700
_FILE_MODE = 0o600
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=False)
_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, check_circular=False, allow_nan=False)
_NO_CHANGES: list = []


def _seg_name(first_seq: int) -> str:
    return f"{first_seq:020d}.jsonl"


def _encode(doc: dict) -> bytes:
    try:
        text = _ENCODER.encode(doc)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"document is not JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep the file valid UTF-8
        return _ASCII_ENCODER.encode(doc).encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _datasync(fd: int) -> None:
    """``fdatasync`` where there is one (not macOS), else ``fsync``."""
    sync = getattr(os, "fdatasync", None) or os.fsync
    sync(fd)


def _boot_id() -> Optional[str]:
    try:
        with open(_BOOT_ID_PATH, encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _syncfs(fd: int) -> None:
    """Flush every dirty file of the filesystem holding ``fd`` (Linux ``syncfs``, else sync)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) == 0:
            return
    except (OSError, AttributeError):
        pass
    os.sync()


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkdir(path: str) -> bool:
    """Create one directory 0700 (umask-independent); False if it already existed."""
    try:
        os.mkdir(path, _DIR_MODE)
    except FileExistsError:
        return False
    os.chmod(path, _DIR_MODE)
    return True


def _makedirs(path: str) -> None:
    """Create ``path`` and missing parents 0700, each new entry synced into its parent."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        _makedirs(parent)
    if _mkdir(path):
        _fsync_dir(parent or ".")


class _FlockLock:
    """An exclusive ``flock(2)`` on the lock file, held through a descriptor kept open.

    It is the very lock ``filelock.FileLock`` takes on Unix (so the two exclude each other),
    without its per-acquire cost (~80 us: it reopens the file, resolves the path, keeps
    registries) and without its polling: a waiting writer sleeps in the kernel and is woken as
    soon as the lock is released. One per backend and process (flock locks belong to the open
    file description: threads of one backend share it, hence the RLock in front of it).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, _FILE_MODE)

    def acquire(self, blocking: bool = True) -> bool:
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:  # the file we locked must still be the lock file (not unlinked or replaced)
                if os.fstat(self._fd).st_ino == os.stat(self._path).st_ino:
                    return True
            except FileNotFoundError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, _FILE_MODE)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class _FileLockLock:
    """The portable fallback (no ``fcntl``): ``filelock.FileLock``, polled."""

    def __init__(self, path: str) -> None:
        import filelock  # ~50 ms to import: only where it is needed

        self._timeout = filelock.Timeout
        self._lock = filelock.FileLock(
            path, thread_local=False, mode=_FILE_MODE, poll_interval=LOCK_POLL_SECONDS
        )

    def acquire(self, blocking: bool = True) -> bool:
        try:
            self._lock.acquire(blocking=blocking)
            return True
        except self._timeout:
            return False

    def release(self) -> None:
        self._lock.release()

    def close(self) -> None:
        pass


#: the inter-process writers' lock (tests switch it to check the fallback)
_LOCK_CLASS: Any = _FlockLock if fcntl is not None else _FileLockLock


class _Table:
    """This process's cache of one table. ``keys`` has an entry for every id in ``docs`` or
    ``bad``: the record file's (inode, size, mtime_ns) when the entry was read from it or written
    by this process, or None when it came from the log (a ``get`` then reads the file once more,
    so that a hand edit made since is seen). ``complete``: every record of the table is here
    (absence is known too)."""

    __slots__ = ("docs", "keys", "bad", "complete")

    def __init__(self, complete: bool = False) -> None:
        self.docs: dict = {}
        self.keys: dict = {}
        self.bad: dict = {}
        self.complete = complete

    def put(self, id: str, value: Any, key: Optional[tuple]) -> None:
        if isinstance(value, CorruptRecordError):
            self.docs.pop(id, None)
            self.bad[id] = value
        else:
            self.bad.pop(id, None)
            self.docs[id] = value
        self.keys[id] = key

    def drop(self, id: str) -> None:
        self.docs.pop(id, None)
        self.bad.pop(id, None)
        self.keys.pop(id, None)

    def read(self, id: str, value: Any, key: Optional[tuple]) -> None:
        """Remember what reading the record file gave (``key`` None: there is no file)."""
        if key is None:
            self.drop(id)
        else:
            self.put(id, value, key)

    def value(self, id: str) -> Any:
        """The cached doc or CorruptRecordError (None: not cached or, if complete, absent)."""
        doc = self.docs.get(id)
        return doc if doc is not None else self.bad.get(id)


class _Pending:
    """What follows the last done commit in the log: a commit line without its done line
    (``commit``), and/or bytes that are not a whole valid line (``garbage``: a torn write)."""

    __slots__ = ("commit", "start", "end", "garbage", "keys", "seq", "seen")

    def __init__(
        self, commit: Optional[dict], start: int, end: int, garbage: Optional[int]
    ) -> None:
        self.commit = commit
        self.start = start
        self.end = end
        self.garbage = garbage
        self.keys: dict = {}  # (table, id) -> op of the commit's first change of that record
        self.seq = commit["seq"] if commit is not None else None
        self.seen = time.monotonic()  # when this process first saw it pending
        if commit is not None:
            for ch in commit["changes"]:
                self.keys.setdefault((ch["table"], ch["id"]), ch["op"])


class _Retry:
    """A lock-free read ran into a pending commit it cannot see around: wait and retry."""

    __slots__ = ("seq",)

    def __init__(self, seq: Optional[int]) -> None:
        self.seq = seq


_MISSING = object()


class JsonBackend(Backend):
    name = "json"

    def __init__(self, url: str, root: str, project: str, durable: bool = True) -> None:
        self.url = url
        self._root = root
        self._project = project
        self._durable = durable
        self._dir = os.path.join(root, project)
        self._meta = os.path.join(self._dir, ".meta")
        self._logdir = os.path.join(self._meta, "log")
        self._lockpath = os.path.join(self._meta, "lock")
        self._closed = False
        self._fd = -1
        self._setup_dirs()
        self._init_process_state()
        self._tables: dict[str, _Table] = {}
        self._open_log()
        self._check_boot()
        # recovery on open: a dead writer's torn line or undone commit (a live one holds the lock)
        with self._mu:
            _, pend = self._refresh()
        if pend is not None and self._try_lock():
            try:
                with self._mu:
                    self._recover_locked()
            finally:
                self._unlock()

    # -- setup -------------------------------------------------------------------------
    def _setup_dirs(self) -> None:
        root = self._root
        try:
            if os.path.exists(root) and not os.path.isdir(root):
                raise BackendUnavailableError(f"cannot open JSON store at {root}: not a directory")
            for path in (root, self._dir, self._meta, self._logdir):
                _makedirs(path)
            fd = os.open(self._lockpath, os.O_RDWR | os.O_CREAT, _FILE_MODE)
            os.close(fd)
        except BackendUnavailableError:
            raise
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot open JSON store at {root}: {exc.strerror or exc}"
            ) from None
        if not os.access(self._dir, os.W_OK | os.X_OK) or not os.access(self._lockpath, os.W_OK):
            raise BackendUnavailableError(f"cannot open JSON store at {root}: not writable")

    def _init_process_state(self) -> None:
        self._pid = os.getpid()
        self._mu = threading.Lock()  # guards the view and the cache
        self._wlock = threading.RLock()  # serialises this process's writers (before the file lock)
        self._flock = _LOCK_CLASS(self._lockpath)
        self._pend_memo: Optional[tuple] = None

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # a forked child: its parent's locks are not its own
            inherited = self._flock
            self._init_process_state()
            inherited.close()  # (the parent's lock, if held, stays held through its own copy)
            fd = os.open(self._seg_path, os.O_RDWR | os.O_APPEND)
            os.close(self._fd)
            self._fd = fd

    def _lock(self) -> None:
        self._wlock.acquire()
        try:
            self._flock.acquire()
        except BaseException:
            self._wlock.release()
            raise

    def _try_lock(self) -> bool:
        if not self._wlock.acquire(blocking=False):
            return False
        try:
            if self._flock.acquire(blocking=False):
                return True
        except BaseException:
            self._wlock.release()
            raise
        self._wlock.release()
        return False

    def _unlock(self) -> None:
        try:
            self._flock.release()
        finally:
            self._wlock.release()

    # -- the log: opening -----------------------------------------------------------------
    def _segments(self) -> list[int]:
        out = []
        for name in os.listdir(self._logdir):
            m = _SEG_RE.match(name)
            if m:
                out.append(int(m.group(1)))
        out.sort()
        return out

    def _seg_file(self, first: int) -> str:
        return os.path.join(self._logdir, _seg_name(first))

    def _open_log(self) -> None:
        segs = self._segments()
        if not segs:
            self._lock()
            try:
                segs = self._segments()
                if not segs:
                    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
                    os.close(os.open(self._seg_file(1), flags, _FILE_MODE))
                    _fsync_dir(self._logdir)
                    self._write_boot()
                    segs = [1]
            finally:
                self._unlock()
        current = len(segs) - 1
        # an empty last segment whose predecessor does not point to it is an unfinished rotation
        while current > 0 and os.path.getsize(self._seg_file(segs[current])) == 0:
            pointer = self._last_line(self._seg_file(segs[current - 1])).get("next")
            if pointer == _seg_name(segs[current]):
                break
            current -= 1
        self._switch_segment(segs[current])
        data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        self._off, last = self._last_done(data)
        self._last_seq = segs[current] - 1 if last is None else last

    @staticmethod
    def _last_line(path: str) -> dict:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4096))
            tail = f.read()
        lines = tail.rstrip(b"\n").rsplit(b"\n", 1)
        try:
            obj = json.loads(lines[-1])
        except ValueError:
            return {}
        return obj if isinstance(obj, dict) else {}

    @staticmethod
    def _last_done(data: bytes) -> tuple[int, Optional[int]]:
        """Offset just after the last finished commit of a segment, and its seq (None: none)."""
        end = data.rfind(b"\n")
        later_commit = False
        while end >= 0:
            start = data.rfind(b"\n", 0, end) + 1
            try:
                obj = json.loads(data[start:end])
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                if "done" in obj:
                    return end + 1, obj["done"]
                if "seq" in obj:
                    if later_commit:  # a commit followed by another one was finished
                        return end + 1, obj["seq"]
                    later_commit = True
            end = start - 1
        return 0, None

    def _switch_segment(self, first: int) -> None:
        path = self._seg_file(first)
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._seg_first = first
        self._seg_path = path
        self._off = 0
        self._pend_memo = None
        self._idx: list = []  # (seq, offset) of this segment's commit lines, for changes()
        self._idx_end = 0

    # -- the log: following it ---------------------------------------------------------
    def _refresh(self) -> tuple[list, Optional[_Pending]]:
        """Apply the done commits appended since the view's position (call with ``_mu``).
        Returns (commits applied, the pending tail or None)."""
        if os.fstat(self._fd).st_size == self._off:
            return _NO_CHANGES, None
        return self._refresh_slow()

    def _refresh_slow(self) -> tuple[list, Optional[_Pending]]:
        applied: list = []
        while True:
            size = os.fstat(self._fd).st_size
            if size <= self._off:
                return applied, None
            memo = self._pend_memo  # a pending commit already parsed: is it still all there is?
            if memo is not None and memo[0] == (self._seg_first, self._off, size):
                pend, tail = memo[1], memo[2]
                if os.pread(self._fd, size - pend.end, pend.end) == tail:
                    return applied, pend
            base = self._off
            data = os.pread(self._fd, size - base, base)
            pos, n = 0, len(data)
            commit, cstart, cend, garbage, nxt = None, 0, 0, None, None
            while pos < n:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    garbage = base + pos
                    break
                try:
                    obj = json.loads(data[pos:nl])
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    garbage = base + pos
                    break
                if "seq" in obj:
                    if commit is not None:  # followed by another commit: it was finished
                        self._apply(commit)
                        applied.append(commit)
                        self._off = cend
                    commit, cstart, cend = obj, base + pos, base + nl + 1
                elif "done" in obj:
                    if commit is not None and obj["done"] == commit["seq"]:
                        self._apply(commit)
                        applied.append(commit)
                        commit = None
                    if commit is None:
                        self._off = base + nl + 1
                elif "next" in obj and commit is None:
                    nxt = obj["next"]
                    break
                else:
                    garbage = base + pos
                    break
                pos = nl + 1
            if nxt is not None:
                m = _SEG_RE.match(nxt) if isinstance(nxt, str) else None
                try:
                    if m is None:
                        raise FileNotFoundError(nxt)
                    self._switch_segment(int(m.group(1)))
                    continue
                except FileNotFoundError:  # a pointer to nothing: a lock holder cuts it off
                    garbage = base + pos
            if commit is None:
                self._pend_memo = None
                return applied, None if garbage is None else _Pending(None, 0, 0, garbage)
            if memo is not None and memo[1].seq == commit["seq"] and memo[1].start == cstart:
                pend = memo[1]  # the same pending commit (its torn tail may have grown)
                pend.garbage = garbage
            else:
                pend = _Pending(commit, cstart, cend, garbage)
            self._pend_memo = ((self._seg_first, self._off, size), pend, data[cend - base :])
            return applied, pend

    def _apply(self, commit: dict) -> None:
        tables = self._tables
        for ch in commit["changes"]:
            t = tables.get(ch["table"])
            if t is None:
                continue
            if ch["op"] == "delete":
                t.drop(ch["id"])
            elif t.complete or ch["id"] in t.keys:
                t.put(ch["id"], ch["doc"], None)
        self._last_seq = commit["seq"]

    # -- record files ----------------------------------------------------------------------
    def _path(self, table: str, id: str) -> str:
        return f"{self._dir}/{table}/{id}.json"

    def _read_file(self, table: str, id: str) -> tuple[Any, Optional[tuple]]:
        """(doc | None | CorruptRecordError, stat key or None)."""
        path = self._path(table, id)
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        except OSError as exc:
            return CorruptRecordError(f"cannot read {table}:{id} at {path}: {exc}", path), None
        try:
            st = os.fstat(fd)
            chunks = [os.read(fd, st.st_size + 1)]
            while len(chunks[-1]) > st.st_size and chunks[-1]:  # grew meanwhile
                more = os.read(fd, 1 << 16)
                if not more:
                    break
                chunks.append(more)
            data = b"".join(chunks) if len(chunks) > 1 else chunks[0]
        except OSError as exc:
            return CorruptRecordError(f"cannot read {table}:{id} at {path}: {exc}", path), None
        finally:
            os.close(fd)
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        try:
            doc = json.loads(data)
        except ValueError as exc:  # includes UnicodeDecodeError
            return CorruptRecordError(f"corrupt record {table}:{id} at {path}: {exc}", path), key
        if not isinstance(doc, dict):
            why = f"not a JSON object but {type(doc).__name__}"
        elif doc.get("id") != id:
            why = f"its id is {doc.get('id')!r}, not {id!r}"
        elif (
            not isinstance(doc.get("_version"), int)
            or isinstance(doc["_version"], bool)
            or doc["_version"] < 1
        ):
            why = f"its _version is {doc.get('_version')!r}, not a positive integer"
        else:
            return doc, key
        return CorruptRecordError(f"corrupt record {table}:{id} at {path}: {why}", path), key

    def _probe(self, table: str, id: str, t: Optional[_Table]) -> tuple[bool, Any, Optional[tuple]]:
        """Look a record up: (served from the cache, value, stat key or None if no file).
        A cache answer is the view's state; a file answer must be confirmed by the caller."""
        try:
            st = os.stat(self._path(table, id))
        except (FileNotFoundError, NotADirectoryError):
            if t is not None and t.complete and id not in t.keys:
                return True, None, None
            return False, None, None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if t is not None and t.keys.get(id) == key:
            return True, t.value(id), key
        if not S_ISREG(st.st_mode):  # a directory (say) in a record's place
            path = self._path(table, id)
            return False, CorruptRecordError(f"{table}:{id} at {path} is not a file", path), key
        value, key = self._read_file(table, id)
        return False, value, key

    def _table(self, table: str) -> _Table:
        t = self._tables.get(table)
        if t is None:
            t = self._tables[table] = _Table()
        return t

    def _write_record(
        self, table: str, id: str, data: bytes, old_size: Optional[int], want_key: bool = True
    ) -> Optional[tuple]:
        """Write a record file in place -- no ``O_TRUNC`` and no rename, both of which make ext4
        flush the file (``auto_da_alloc``) -- and return its stat key (if ``want_key``).
        ``old_size``: the file's size if it exists, else None. A reader or a crash can meet a
        half-written file: the commit is pending then, and the log line rebuilds it."""
        path = self._path(table, id)
        fd = -1
        if old_size is not None:
            try:
                fd = os.open(path, os.O_WRONLY)
            except FileNotFoundError:
                pass
        created = fd < 0
        if created:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            try:
                try:
                    fd = os.open(path, flags, _FILE_MODE)
                except FileNotFoundError:  # the table's first record
                    _mkdir(os.path.join(self._dir, table))
                    fd = os.open(path, flags, _FILE_MODE)
            except FileExistsError:  # appeared meanwhile (by hand): overwrite it
                fd = os.open(path, os.O_WRONLY)
                created, old_size = False, None
        try:
            _write_all(fd, data)
            if not created and (old_size is None or old_size > len(data)):
                os.ftruncate(fd, len(data))
            if created:  # whatever the umask took away
                os.fchmod(fd, _FILE_MODE)
            st = os.fstat(fd) if want_key else None
        finally:
            os.close(fd)
        return None if st is None else (st.st_ino, st.st_size, st.st_mtime_ns)

    def _delete_record(self, table: str, id: str) -> None:
        try:
            os.unlink(self._path(table, id))
        except (FileNotFoundError, NotADirectoryError):
            pass

    # -- lock-free reads ---------------------------------------------------------------------
    def _read(self, attempt: Any, *args: Any) -> Any:
        """Run ``attempt(*args)`` under ``_mu`` until it does not answer ``_Retry``; after a few
        tries (a writer keeps getting in the way) run it under the writers' lock."""
        if self._pid != os.getpid():
            self._check_fork()
        for _ in range(4):
            with self._mu:
                result = attempt(*args)
            if type(result) is not _Retry:
                memo = self._pend_memo
                if memo is not None and time.monotonic() - memo[1].seen > STALE_PENDING_SECONDS:
                    self._check_stale(memo[1])
                return result
            self._wait_for(result.seq)
        self._lock()
        try:
            with self._mu:
                self._recover_locked()
                result = attempt(*args)
        finally:
            self._unlock()
        if type(result) is _Retry:
            raise StoreError(f"the log of {self._dir} keeps changing under its lock")
        return result

    def _check_stale(self, pend: _Pending) -> None:
        """A commit has been pending for a while: if its writer is dead (the lock is free),
        finish it, so that it does not stay invisible to readers until the next commit."""
        pend.seen = time.monotonic()  # check again only after another while
        if self._try_lock():
            try:
                with self._mu:
                    self._recover_locked()
            finally:
                self._unlock()

    def _wait_for(self, seq: Optional[int]) -> None:
        """Wait until pending commit ``seq`` is done (polling the log), or recover it if its
        writer is dead (the lock is free)."""
        if seq is None:
            return
        delay = 0.00005
        for i in range(40):
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
            with self._mu:
                _, pend = self._refresh()
            if pend is None or pend.seq != seq:
                return
            if i >= 3 and self._try_lock():
                try:
                    with self._mu:
                        self._recover_locked()
                finally:
                    self._unlock()
                return

    def _pending_value(self, pend: _Pending, t: Optional[_Table], table: str, id: str) -> Any:
        """The value, before pending commit ``pend``, of a record it touches -- or a _Retry."""
        if pend.keys[(table, id)] == "insert":
            return None
        if t is not None and id in t.keys:
            return t.value(id)
        return _Retry(pend.seq)

    @staticmethod
    def _changed(applied: list) -> dict:
        """(table, id) -> last doc (None: deleted) over the given commits."""
        out = {}
        for commit in applied:
            for ch in commit["changes"]:
                out[(ch["table"], ch["id"])] = ch["doc"]
        return out

    def _get_once(self, table: str, id: str) -> Any:
        _, pend = self._refresh()
        t = self._tables.get(table)
        if pend is not None and (table, id) in pend.keys:
            return self._pending_value(pend, t, table, id)
        hit, value, key = self._probe(table, id, t)
        if hit:
            return value
        applied, pend = self._refresh()  # seqlock: did a writer get in meanwhile?
        if applied:
            found = self._changed(applied).get((table, id), _MISSING)
            if found is not _MISSING:
                return found
        if pend is not None and (table, id) in pend.keys:
            return self._pending_value(pend, t, table, id)
        self._table(table).read(id, value, key)
        return value

    def get(self, table: str, id: str) -> dict | None:
        if self._pid == os.getpid():  # the common case, inlined: log unchanged, file unchanged
            with self._mu:
                t = self._tables.get(table)
                if t is not None and os.fstat(self._fd).st_size == self._off:
                    key = t.keys.get(id)
                    if key is not None:
                        try:
                            st = os.stat(f"{self._dir}/{table}/{id}.json")
                        except OSError:
                            st = None
                        if st is not None and (st.st_ino, st.st_size, st.st_mtime_ns) == key:
                            value = t.docs.get(id)
                            if value is not None:
                                return copy_json(value)
        value = self._read(self._get_once, table, id)
        if value is None:
            return None
        if isinstance(value, CorruptRecordError):
            raise value
        return copy_json(value)

    def _read_keys_once(self, keys: list) -> Any:
        """{(table, id): doc | None | CorruptRecordError} as of one moment, or a _Retry."""
        _, pend = self._refresh()
        out: dict = {}
        from_disk: dict = {}
        tables = self._tables
        for key in keys:
            if key in out or key in from_disk:
                continue
            table, id = key
            t = tables.get(table)
            if pend is not None and key in pend.keys:
                value = self._pending_value(pend, t, table, id)
                if type(value) is _Retry:
                    return value
                out[key] = value
                continue
            hit, value, skey = self._probe(table, id, t)
            if hit:
                out[key] = value
            else:
                from_disk[key] = (value, skey)
        if not from_disk:
            return out
        applied, pend = self._refresh()
        if applied:  # then everything is answered as of the newer position
            for key, doc in self._changed(applied).items():
                if key in out or key in from_disk:
                    out[key] = doc
                    from_disk.pop(key, None)
        for key, (value, skey) in from_disk.items():
            table, id = key
            if pend is not None and key in pend.keys:
                value = self._pending_value(pend, tables.get(table), table, id)
                if type(value) is _Retry:
                    return value
            else:
                self._table(table).read(id, value, skey)
            out[key] = value
        return out

    def get_many(self, table: str, ids: list[str]) -> list[dict]:
        found = self._read(self._read_keys_once, [(table, id) for id in ids])
        result = []
        for id in ids:
            value = found[(table, id)]
            if value is None:
                continue
            if isinstance(value, CorruptRecordError):
                raise value
            result.append(copy_json(value))
        return result

    def _record_names(self, table: str) -> list[str]:
        ids = []
        try:
            with os.scandir(os.path.join(self._dir, table)) as it:
                for entry in it:
                    name = entry.name
                    if name.endswith(".json"):
                        id = name[:-5]
                        if ID_RE.fullmatch(id) and id not in (".", "..") and entry.is_file():
                            ids.append(id)
        except (FileNotFoundError, NotADirectoryError):
            pass
        return ids

    def _bad_changed(self, table: str, t: _Table) -> bool:
        """Has a file the cache holds as corrupt changed since (mended by hand)?"""
        for id in t.bad:
            try:
                st = os.stat(self._path(table, id))
                key = (st.st_ino, st.st_size, st.st_mtime_ns)
            except OSError:
                key = None
            if key != t.keys.get(id):
                return True
        return False

    @staticmethod
    def _snapshot(t: _Table) -> tuple[list, Optional[CorruptRecordError]]:
        return list(t.docs.values()), (t.bad[min(t.bad)] if t.bad else None)

    def _scan_once(self, table: str) -> Any:
        _, pend = self._refresh()
        t = self._tables.get(table)
        if t is not None and t.complete and not (t.bad and self._bad_changed(table, t)):
            return self._snapshot(t)
        # (re)load the table: list and parse its files, then confirm against the log
        pk = {}
        if pend is not None:
            pk = {id: op for (tb, id), op in pend.keys.items() if tb == table}
        new = _Table(complete=True)
        for id in self._record_names(table):
            if id not in pk:
                value, key = self._read_file(table, id)
                if key is not None:
                    new.put(id, value, key)
        for id in pk:  # records the pending commit may be rewriting: their state before it
            value = self._pending_value(pend, t, table, id)
            if type(value) is _Retry:
                return value
            if value is not None:
                new.put(id, value, t.keys[id])
        applied, pend2 = self._refresh()
        done = set()
        for (tb, id), doc in self._changed(applied).items():
            if tb == table:
                done.add(id)
                if doc is None:
                    new.drop(id)
                else:
                    new.put(id, doc, None)
        new_pending = pend2 is not None and pend2.commit is not None
        if new_pending and (pend is None or pend2.seq != pend.seq):
            t = self._tables.get(table)
            for (tb, id), op in pend2.keys.items():
                if tb != table or id in done:
                    continue
                value = self._pending_value(pend2, t, table, id)
                if type(value) is _Retry:
                    return value
                if value is None:
                    new.drop(id)
                else:
                    new.put(id, value, t.keys[id])
        self._tables[table] = new
        return self._snapshot(new)

    def scan(self, table: str) -> Iterable[dict]:
        docs, bad = self._read(self._scan_once, table)
        if bad is not None:
            raise bad
        return docs

    def _tables_once(self) -> Any:
        _, pend = self._refresh()
        if pend is not None and pend.commit is not None:
            return _Retry(pend.seq)
        names = []
        try:
            with os.scandir(self._dir) as it:
                entries = [e.name for e in it if TABLE_RE.fullmatch(e.name) and e.is_dir()]
        except FileNotFoundError:
            entries = []
        for name in entries:
            t = self._tables.get(name)
            if t is not None and t.complete:
                if t.keys:
                    names.append(name)
            elif self._record_names(name):
                names.append(name)
        applied, pend = self._refresh()
        if applied or (pend is not None and pend.commit is not None):
            return _Retry(pend.seq if pend is not None else None)
        return sorted(names)

    def tables(self) -> list[str]:
        return self._read(self._tables_once)

    # -- commits ---------------------------------------------------------------------------
    def commit(self, writes: list[Write], checks: dict) -> CommitResult:
        if self._pid != os.getpid():
            self._check_fork()
        for w in writes:
            check_table(w.table)
            check_id(w.id)
            if w.kind not in ("insert", "put", "merge", "delete"):
                raise ValidationError(f"unknown write kind {w.kind!r}")
            if w.kind != "delete" and not isinstance(w.doc, dict):
                raise ValidationError(f"a {w.kind} needs a document (dict)")
        if not writes:
            if checks:  # nothing to write: verify the versions on one consistent snapshot
                self._verify(self._read(self._read_keys_once, list(checks)), checks)
            return CommitResult(None, [])
        self._lock()
        try:
            return self._commit_locked(writes, checks)
        finally:
            self._unlock()

    @staticmethod
    def _verify(current: dict, checks: dict) -> None:
        for (table, id), version in checks.items():
            doc = current[(table, id)]
            if isinstance(doc, CorruptRecordError):
                raise doc
            have = None if doc is None else doc["_version"]
            if have != version:
                raise ConflictError(
                    f"{table}:{id} is at version {'absent' if have is None else have}, "
                    f"not {'absent' if version is None else version}"
                )

    def _commit_locked(self, writes: list[Write], checks: dict) -> CommitResult:
        if self._off >= SEGMENT_BYTES:  # about to start a segment: sync without blocking readers
            _syncfs(self._fd)
            synced = True
        else:
            synced = False
        with self._mu:
            if self._recover_locked():
                synced = False  # it wrote record files after that sync
            # the current state of every record involved, from the files (hand edits included)
            current: dict = {}  # key -> doc | None | CorruptRecordError
            sizes: dict = {}  # key -> record file size (None: no file)
            tables = self._tables
            for w in writes:
                key = (w.table, w.id)
                if w.kind == "insert" and key not in current and key not in checks:
                    if not os.access(f"{self._dir}/{w.table}/{w.id}.json", os.F_OK):
                        current[key] = sizes[key] = None  # the common case, for a stat less
                        t = tables.get(w.table)
                        if t is not None:
                            t.drop(w.id)
            for key in (*checks, *((w.table, w.id) for w in writes)):
                if key in current:
                    continue
                table, id = key
                t = tables.get(table)
                hit, value, skey = self._probe(table, id, t)
                if not hit:
                    self._table(table).read(id, value, skey)
                current[key] = value
                sizes[key] = None if skey is None else skey[1]
            if checks:
                self._verify(current, checks)
            staged: dict = {}
            for w in writes:  # everything is checked before anything is written
                key = (w.table, w.id)
                cur = staged.get(key, current[key])
                if cur is not None:
                    if isinstance(cur, CorruptRecordError):
                        raise cur
                    if w.kind == "insert":
                        raise ConflictError(f"{w.table}:{w.id} already exists")
                elif w.kind == "merge":
                    raise NotFoundError(f"{w.table}:{w.id} does not exist")
                staged[key] = None if w.kind == "delete" else (cur or True)  # exists after it
            # the new documents, the change log line, the files to write
            seq = self._last_seq + 1
            live = dict(current)
            changes: list = []  # Change or None per write (docs shared with ``live``)
            parts: list = []
            final: dict = {}  # key -> encoded doc | None (delete)
            for w in writes:
                key = (w.table, w.id)
                cur = live[key]
                if w.kind == "delete":
                    if cur is None:
                        changes.append(None)
                        continue
                    live[key] = final[key] = None
                    changes.append(Change(seq, w.table, w.id, "delete", None))
                    parts.append(
                        b'{"table":"%s","id":"%s","op":"delete","doc":null}'
                        % (w.table.encode(), w.id.encode())
                    )
                    continue
                body = w.doc
                if "id" in body or "_version" in body:
                    body = {k: v for k, v in body.items() if k != "id" and k != "_version"}
                if cur is None:
                    doc = {"id": w.id, "_version": 1, **body}
                    op = "insert"
                else:
                    if w.kind == "merge":  # (a copy: ``cur`` is the cache's)
                        doc = {**copy_json(cur), **body, "_version": cur["_version"] + 1}
                    else:
                        doc = {"id": w.id, "_version": cur["_version"] + 1, **body}
                    op = "update"
                data = _encode(doc)
                live[key] = doc
                final[key] = data
                changes.append(Change(seq, w.table, w.id, op, doc))
                parts.append(
                    b'{"table":"%s","id":"%s","op":"%s","doc":%s}'
                    % (w.table.encode(), w.id.encode(), op.encode(), data)
                )
            if not final:
                return CommitResult(None, changes)
            if self._off >= SEGMENT_BYTES:
                self._rotate(seq, synced)
            fd, pre = self._fd, (self._seg_first, self._off)
            # records this process caches now (probably still after the commit): their files'
            # stat keys are worth taking
            cached = {
                key
                for key in final
                if (t := tables.get(key[0])) is not None and (t.complete or key[1] in t.keys)
            }
        line = b'{"seq":%d,"changes":[%s]}\n' % (seq, b",".join(parts))
        size = pre[1]
        try:
            _write_all(fd, line)
            if self._durable:
                _datasync(fd)
        except BaseException:  # not committed: take the line back
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            raise
        # committed: a failure from here on is finished from the log line before it is raised
        keys = {}
        done = b'{"done":%d}\n' % seq
        try:
            for key, data in final.items():
                if data is None:
                    self._delete_record(key[0], key[1])
                else:
                    keys[key] = self._write_record(
                        key[0], key[1], data + b"\n", sizes[key], key in cached
                    )
            _write_all(fd, done)
        except BaseException:
            try:
                with self._mu:
                    self._recover_locked()
            except BaseException:
                pass  # left for the next lock holder
            raise
        post = size + len(line) + len(done)
        with self._mu:  # into the cache as _apply would (copies: the Change docs are the caller's)
            view = (self._seg_first, self._off)
            if view == pre or view == (pre[0], post):
                for key, data in final.items():
                    t = tables.get(key[0])
                    if t is None:
                        continue
                    if data is None:
                        t.drop(key[1])
                    elif t.complete or key[1] in t.keys:
                        t.put(key[1], copy_json(live[key]), keys.get(key))
                if view == pre:
                    self._off = post
                    self._last_seq = seq
            else:  # cannot happen while we hold the lock; be safe
                self._refresh()
        return CommitResult(seq, changes)

    def _rotate(self, seq: int, synced: bool) -> None:
        """Start segment ``seq`` (lock and ``_mu`` held, the view up to date and clean).
        ``synced``: ``syncfs`` was called since the last record file was written (the lock held)."""
        if not synced:
            _syncfs(self._fd)  # every record file written so far is on disk: older segments done
        for first in self._segments():  # leftovers of an unfinished rotation
            if first > self._seg_first:
                os.unlink(self._seg_file(first))
        name = _seg_name(seq)
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
        os.close(os.open(os.path.join(self._logdir, name), flags, _FILE_MODE))
        _fsync_dir(self._logdir)
        _write_all(self._fd, b'{"next":"%s"}\n' % name.encode())
        _datasync(self._fd)
        self._switch_segment(seq)

    # -- recovery ------------------------------------------------------------------------------
    def _recover_locked(self) -> bool:
        """With the lock and ``_mu`` held: cut a torn tail and finish an undone commit
        (True if there was one)."""
        _, pend = self._refresh()
        if pend is None:
            return False
        cut = pend.garbage
        if cut is not None:
            os.ftruncate(self._fd, cut)
            if self._durable:
                _datasync(self._fd)
        if pend.commit is not None:
            if self._durable:
                _datasync(self._fd)
            self._replay([pend.commit], compare=False)
            _write_all(self._fd, b'{"done":%d}\n' % pend.commit["seq"])
        self._pend_memo = None
        finished = pend.commit is not None
        _, pend = self._refresh()
        if pend is not None:
            raise StoreError(f"cannot recover the commit log of {self._dir}")
        return finished

    def _replay(self, commits: list, compare: bool) -> int:
        """Write the final state of every record the commits touch; returns files written."""
        final: dict = {}
        for commit in commits:
            for ch in commit["changes"]:
                final[(ch["table"], ch["id"])] = ch["doc"]
        written = 0
        for (table, id), doc in final.items():
            if doc is None:
                self._delete_record(table, id)
                continue
            value, key = self._read_file(table, id) if compare else (None, None)
            if compare and value == doc:
                continue
            self._write_record(table, id, _encode(doc) + b"\n", None if key is None else key[1])
            written += 1
        return written

    def _check_boot(self) -> None:
        boot = _boot_id()
        if boot is not None and self._read_boot() == boot:
            return
        self._lock()
        try:
            if boot is not None and self._read_boot() == boot:
                return
            with self._mu:
                self._recover_locked()
                data = os.pread(self._fd, self._off, 0)
                commits = [json.loads(data[s:e]) for _, s, e in _commit_lines(data, 0)]
                if self._replay(commits, compare=True):
                    _syncfs(self._fd)
                self._tables.clear()
            self._write_boot()
        finally:
            self._unlock()

    def _read_boot(self) -> Optional[str]:
        try:
            with open(os.path.join(self._meta, "boot"), encoding="ascii") as f:
                return f.read().strip()
        except (OSError, ValueError):
            return None

    def _write_boot(self) -> None:
        boot = _boot_id()
        if boot is None:
            return
        path = os.path.join(self._meta, "boot")
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
        try:
            _write_all(fd, boot.encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(self._meta)

    # -- change log ----------------------------------------------------------------------------
    def changes(
        self, since: int = 0, tables: list[str] | None = None, limit: int | None = None
    ) -> list[Change]:
        if self._pid != os.getpid():
            self._check_fork()
        if limit == 0:
            return []
        with self._mu:
            self._refresh()
            end_seg, end_off, last = self._seg_first, self._off, self._last_seq
            if since >= last:
                return []
            # the current segment's index of commit lines, brought up to the view
            if self._idx_end < end_off:
                data = os.pread(self._fd, end_off - self._idx_end, self._idx_end)
                self._idx.extend((seq, s) for seq, s, _ in _commit_lines(data, self._idx_end))
                self._idx_end = end_off
            i = bisect_right(self._idx, (since + 1, -1))  # the first commit after ``since``
            start = self._idx[i][1] if i < len(self._idx) else end_off
            segs = [s for s in self._segments() if s <= end_seg]
            fd = os.dup(self._fd)
        wanted = None if tables is None else set(tables)
        out: list = []
        try:
            first = max(0, bisect_right(segs, since + 1) - 1)
            for seg in segs[first:]:
                if seg == end_seg:
                    data = os.pread(fd, end_off - start, start)
                else:
                    with open(self._seg_file(seg), "rb") as f:
                        data = f.read()
                for seq, s, e in _commit_lines(data, 0):
                    if seq <= since:
                        continue
                    for ch in json.loads(data[s:e])["changes"]:
                        if wanted is None or ch["table"] in wanted:
                            out.append(Change(seq, ch["table"], ch["id"], ch["op"], ch["doc"]))
                            if limit is not None and len(out) >= limit:
                                return out
        finally:
            os.close(fd)
        return out

    # -- lifecycle ---------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {"path": self._root, "durable": self._durable}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._mu:
            if self._fd >= 0 and self._pid == os.getpid():
                os.close(self._fd)
                self._flock.close()
            self._fd = -1
            self._tables.clear()


def _commit_lines(data: bytes, base: int):
    """(seq, start, end) of every commit line in ``data`` (whole lines), offsets + ``base``."""
    pos, n = 0, len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return
        if data.startswith(b'{"seq":', pos):
            comma = data.find(b",", pos + 7, nl)
            try:
                seq = int(data[pos + 7 : comma])
            except ValueError:
                seq = None
            if seq is not None:
                yield seq, base + pos, base + nl
        pos = nl + 1


_OPTIONS = frozenset({"durable"})


def open_backend(url: str, *, project: str, durable: bool = True, **options: Any) -> JsonBackend:
    """``json:///abs/path``, ``json://relative/path`` or a plain path; ``~`` is expanded."""
    if options:
        raise ValidationError(
            f"unknown option(s) for the JSON backend: {', '.join(sorted(options))} "
            f"(known: {', '.join(sorted(_OPTIONS))})"
        )
    if not isinstance(durable, bool):
        raise ValidationError(f"durable must be True or False, not {durable!r}")
    _, path = split_scheme(url)
    if not path:
        raise BackendUnavailableError(f"cannot open JSON store {url!r}: no path given")
    root = os.path.abspath(os.path.expanduser(path))
    return JsonBackend(url, root, project, durable)
