"""What the log must keep, and what it may forget: the synced mark, compression, compaction.

``.meta/synced`` holds N: the record files of every commit numbered below N are known to be on
disk. Record files are never synced one by one (the log line can rebuild them), so N moves
only when someone calls ``syncfs`` -- and that is done off the commit path: the writer that
starts a new log segment starts a thread that calls ``syncfs`` and then raises N to the new
segment's first seq (a commit no longer stalls ~150 ms on a segment switch). After a reboot,
commits from N on are replayed onto the record files (:mod:`.recovery`); a lost or stale mark
only means replaying more.

The same thread then compresses every closed segment whose commits are all below N into its
``.jsonl.gz`` form (:mod:`.segments`; ~7x smaller on typical records), oldest first, holding
``.meta/compress.lock`` (one compressing process at a time). Commits do not wait for it: only
a segment switch arriving while the previous pass still runs (~50-100 ms per 4 MiB segment)
joins that thread, as it always did for the ``syncfs``. Nothing changes for readers: every
change stays readable by ``changes(since)`` until pruned.

``.meta/pruned`` holds the highest seq whose change-log entries were forgotten
(``prune_changes``): ``changes()`` never returns them, and whole segments whose every commit is
both pruned and below N are removed (compaction). A process whose current segment was removed
under it (it had not read the log for a while) finds the next one gone, and starts again from
the log that is left (its cache dropped: the record files hold everything).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional

from .. import jsonfiles as _pkg  # its tunables (COMPRESS_LEVEL) and lock class
from .files import read_int, syncfs, write_int
from .log import commit_lines, load_commit
from .segments import (
    compress_segment,
    read_segment,
    remove_leftovers,
    remove_segment,
    seg_name,
    segments,
)

#: the longest ``close()`` waits for a background ``syncfs`` still running
_SYNC_JOIN_SECONDS = 5.0


class Retention:
    """The synced mark, background syncs, ``prune_changes`` and compaction (mixed in)."""

    _meta: str
    _logdir: str
    _durable: bool
    _fd: int
    _off: int
    _seg_first: int
    _seg_path: str
    _last_seq: int
    _mu: Any
    _closed: bool
    _syncer: Optional[threading.Thread]
    _segments: Callable[[], list]
    _refresh: Callable[[], tuple]
    _lock: Callable[[], None]
    _unlock: Callable[[], None]

    # -- the synced mark ---------------------------------------------------------------------
    def _synced_from(self) -> int:
        """N of ``.meta/synced`` (without one: the current segment's first seq, which the
        protocol before background syncs guaranteed)."""
        mark = read_int(os.path.join(self._meta, "synced"))
        return self._seg_first if mark is None else mark

    def _mark_synced(self, n: int) -> None:
        path = os.path.join(self._meta, "synced")
        if (read_int(path) or 0) < n:
            write_int(path, n, durable=True)

    def _sync_later(self, upto: int) -> None:
        """After a segment switch at ``upto``: syncfs in the background, then raise N."""
        self._join_syncer()
        thread = threading.Thread(
            target=self._background_sync, args=(upto,), name="conductor-store-syncfs", daemon=True
        )
        self._syncer = thread
        thread.start()

    def _background_sync(self, upto: int) -> None:
        try:
            fd = os.open(self._logdir, os.O_RDONLY)
            try:
                syncfs(fd)
            finally:
                os.close(fd)
            self._mark_synced(upto)
        except OSError:
            return  # the mark stays lower: a reboot replays more
        try:
            self._compress_synced()
        except OSError:
            pass  # what is left is compressed by the next pass (:mod:`.segments`)

    def _compress_synced(self) -> None:
        """Compress, oldest first, the closed segments whose record files are known synced
        (every commit below N); stop at the first that is not, or when the store closes."""
        lock = _pkg._LOCK_CLASS(os.path.join(self._meta, "compress.lock"))
        try:
            lock.acquire()
            try:
                remove_leftovers(self._logdir)
                segs, synced = segments(self._logdir), self._synced_from()
                for first, nxt in zip(segs, segs[1:]):
                    if self._closed or nxt > synced:
                        break
                    if not os.path.exists(os.path.join(self._logdir, seg_name(first))):
                        continue  # compressed already
                    if not compress_segment(self._logdir, first, nxt, _pkg.COMPRESS_LEVEL):
                        break
            finally:
                lock.release()
        finally:
            lock.close()

    def _join_syncer(self) -> None:
        thread = getattr(self, "_syncer", None)
        if thread is not None:
            thread.join(_SYNC_JOIN_SECONDS)
            self._syncer = None

    def _commits_from(self, n: int) -> list:
        """Every finished commit numbered >= ``n``, parsed and checked (with ``_mu``)."""
        segs = self._segments()
        out = []
        for i, seg in enumerate(segs):
            if seg > self._seg_first or (i + 1 < len(segs) and segs[i + 1] <= n):
                continue
            if seg == self._seg_first:
                path, data = self._seg_path, os.pread(self._fd, self._off, 0)
            else:
                path, data = read_segment(self._logdir, seg)
            out += [load_commit(data[s:e], path, s) for q, s, e in commit_lines(data, 0) if q >= n]
        return out

    # -- pruning -----------------------------------------------------------------------------
    def pruned_through(self) -> int:
        return read_int(os.path.join(self._meta, "pruned")) or 0

    def prune_changes(self, through: int) -> None:
        self._lock()
        try:
            with self._mu:
                self._refresh()
                through = min(through, self._last_seq)
                if through > self.pruned_through():
                    write_int(os.path.join(self._meta, "pruned"), through, durable=True)
                self._compact(self.pruned_through())
        finally:
            self._unlock()

    def _compact(self, through: int) -> None:
        """Remove the oldest segments whose commits are all pruned and synced (lock held)."""
        synced = self._synced_from()
        segs = self._segments()
        for first, nxt in zip(segs, segs[1:]):
            if first >= self._seg_first or nxt - 1 > through or nxt > synced:
                break
            remove_segment(self._logdir, first)
