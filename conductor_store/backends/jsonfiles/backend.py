"""The JSON-files backend: the parts composed.

:class:`JsonBackend` is one project directory seen by one process. Its parts, each a module:
record files (:mod:`.files`), the commit log and this process's position in it (:mod:`.log`),
recovery (:mod:`.recovery`), the writers' lock (:mod:`.locking`), the reader cache and its
seqlock (:mod:`.cache`), its per-table snapshots (:mod:`.snapshot`) and the commit phases
(:mod:`.commit`). They share the backend's state, guarded by ``_mu`` (a ``threading.Lock``:
the view and the cache) and the writers' lock.
"""

from __future__ import annotations

import os
import stat
import threading
from typing import Any, Optional

from ...errors import BackendUnavailableError, NotFoundError, ValidationError
from ...urls import split_scheme
from .. import jsonfiles as _pkg  # its tunables (tests and users set them there)
from ..base import Backend
from .cache import ReaderCache, Table
from .commit import Committer
from .files import FILE_MODE, RecordFiles, makedirs, read_int, storage_error
from .locking import WriterLock
from .log import LogView
from .recovery import Recovery
from .retention import Retention
from .search import Search
from .snapshot import Snapshots

#: where quarantined record files go, inside the project directory (never a table name)
QUARANTINE_DIR = ".quarantine"


class JsonBackend(
    Committer, Search, ReaderCache, Snapshots, Recovery, Retention, LogView, RecordFiles, Backend
):
    name = "json"

    def __init__(self, url: str, root: str, project: str, durable: bool = True) -> None:
        self.url = url
        self._pid = os.getpid()
        self._root = root
        self._project = project
        self._durable = durable
        self._dir = os.path.join(root, project)
        self._meta = os.path.join(self._dir, ".meta")
        self._logdir = os.path.join(self._meta, "log")
        self._lockpath = os.path.join(self._meta, "lock")
        self._closed = False
        self._fd = -1
        self._real_dirs: set = set()
        self._index_specs: list = []
        self._index_key: Any = None
        self._index_mark: Any = None
        self._syncer: Optional[threading.Thread] = None
        self._tables: dict[str, Table] = {}
        self._setup_dirs()
        try:
            self._open()
        except OSError as exc:
            self._release()
            raise storage_error("open", root, exc) from None
        except BaseException:
            self._release()
            raise

    def _open(self) -> None:
        self._init_process_state()
        self._open_log(self._segments() or self._first_segment())
        self._check_boot()
        if read_int(os.path.join(self._meta, "synced")) is None:  # a store made before marks
            with self._writer, self._mu:
                self._mark_synced(self._synced_from())
        # recovery on open: a dead writer's torn line or undone commit (a live one holds the lock)
        with self._mu:
            _, pend = self._refresh()
        if pend is not None:
            self._recover_if_free()
        self._check_head()

    # -- setup ---------------------------------------------------------------------------
    def _setup_dirs(self) -> None:
        root = self._root
        try:
            if os.path.exists(root) and not os.path.isdir(root):
                raise BackendUnavailableError(f"cannot open JSON store at {root}: not a directory")
            for path in (root, self._dir, self._meta, self._logdir):
                makedirs(path)
            for path in (self._dir, self._meta, self._logdir):  # the chain holds no symlink
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    raise BackendUnavailableError(
                        f"cannot open JSON store at {root}: {path} is not a directory "
                        "(symbolic links are not followed)"
                    )
            fd = os.open(self._lockpath, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
            os.close(fd)
        except BackendUnavailableError:
            raise
        except OSError as exc:
            raise storage_error("open", root, exc) from None
        if not os.access(self._dir, os.W_OK | os.X_OK) or not os.access(self._lockpath, os.W_OK):
            raise BackendUnavailableError(f"cannot open JSON store at {root}: not writable")

    def _first_segment(self) -> list[int]:
        """A new store: create its first segment (under the lock: another may be doing it)."""
        self._lock()
        try:
            segs = self._segments()
            if not segs:
                self._create_first_segment()
                self._write_boot()
                segs = [1]
            return segs
        finally:
            self._unlock()

    def _init_process_state(self) -> None:
        self._pid = os.getpid()
        self._mu = threading.Lock()  # guards the view and the cache
        self._writer = WriterLock(self._lockpath, _pkg._LOCK_CLASS)
        self._pend_memo: Optional[tuple] = None

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # a forked child: its parent's locks are not its own
            inherited = self._writer.file
            self._init_process_state()
            inherited.close()  # (the parent's lock, if held, stays held through its own copy)
            if self._box is not None:  # the parent's mailbox stays the parent's
                os.close(self._box.fd)
                self._box = None
            try:
                fd = os.open(self._seg_path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:  # the parent's segment was compressed or compacted away
                self._reopen_log()  # (closes the inherited descriptor)
                return
            os.close(self._fd)
            self._fd = fd

    # -- the writers' lock -----------------------------------------------------------------
    @property
    def _flock(self) -> Any:
        """The inter-process file lock (the second half of the writers' lock)."""
        return self._writer.file

    @property
    def _wlock(self) -> threading.RLock:
        """This process's threads' half of the writers' lock."""
        return self._writer.thread

    def _lock(self) -> None:
        self._writer.acquire()

    def _try_lock(self) -> bool:
        return self._writer.try_acquire()

    def _unlock(self) -> None:
        self._writer.release()

    # -- repair ------------------------------------------------------------------------------
    def quarantine(self, table: str, id: str) -> str:
        """Move the record file ``<table>/<id>.json`` into ``<project>/.quarantine/<table>/``
        under the writers' lock, never deleting (a taken name gets ``.1``, ``.2``, ...): the
        way out for a file that does not parse. Returns where it went."""
        src = os.path.join(self._dir, table, id + ".json")
        qdir = os.path.join(self._dir, QUARANTINE_DIR, table)
        self._lock()
        try:
            if not os.path.lexists(src):
                raise NotFoundError(f"{table}:{id} has no record file ({src})")
            makedirs(qdir)
            dst, n = os.path.join(qdir, id + ".json"), 0
            while os.path.lexists(dst):
                n += 1
                dst = os.path.join(qdir, f"{id}.json.{n}")
            os.rename(src, dst)
            with self._mu:
                cached = self._tables.get(table)
                if cached is not None:
                    cached.drop(id)
        except OSError as exc:
            raise storage_error("quarantine", src, exc) from None
        finally:
            self._unlock()
        return dst

    # -- reads that must follow a fork -------------------------------------------------------
    def changes(
        self, since: int = 0, tables: list[str] | None = None, limit: int | None = None
    ) -> list:
        if self._pid != os.getpid():
            self._check_fork()
        return LogView.changes(self, since, tables, limit)

    def change_signal_path(self) -> str:
        """The log directory: every commit, from any process, appends to a file in it (watchers
        wait on it with inotify)."""
        return self._logdir

    # -- lifecycle -------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {"path": self._root, "durable": self._durable}

    def close(self) -> None:
        """Release every descriptor at once (the log segment and the lock file)."""
        if self._closed:
            return
        self._closed = True
        self._join_syncer()
        if self._box is not None and self._box.pid == os.getpid():
            self._box.close()
        if self._pid == os.getpid() and self._fd >= 0:
            with self._mu:
                try:
                    self._refresh()
                    self._write_head()
                except OSError:
                    pass
        self._release()

    def _release(self) -> None:
        with getattr(self, "_mu", threading.Lock()):
            if self._pid == os.getpid():
                if self._fd >= 0:
                    os.close(self._fd)
                writer = getattr(self, "_writer", None)
                if writer is not None:
                    writer.file.close()
            self._fd = -1
            self._tables.clear()


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
