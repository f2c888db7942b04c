"""Crash and power-cut recovery, written once.

A process killed at any instant leaves either a torn commit line (no newline: that commit never
returned and is cut off), or a whole commit line without its done line (its record files are
rewritten from the line -- idempotently -- and the done line appended). Whoever next holds the
lock does this (:meth:`Recovery._recover_locked`): every writer before it commits, every
``open``, and any reader that finds a commit that stays undone while the lock is free
(:meth:`Recovery._recover_if_free`).

Power cuts: ``.meta/boot`` holds the kernel's boot id under which the record files were last
known to hold every commit of the log; an ``open`` that finds another boot id (the machine
restarted since) replays every commit from ``.meta/synced`` on (the record files of earlier
commits are known to be on disk, :mod:`.retention`) onto the record files, syncs them and
records the new boot id. Without a boot id (not Linux) every ``open`` does so (usually the
current segment: at most ~``SEGMENT_BYTES`` of log).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Optional

from ...errors import StoreError
from ...validation import TABLE_RE
from .files import FILE_MODE, datasync, encode, fsync_dir, read_int, syncfs, write_all, write_int
from .log import commit_line

_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
_log = logging.getLogger("conductor_store.jsonfiles")


def boot_id() -> Optional[str]:
    try:
        with open(_BOOT_ID_PATH, encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


class Recovery:
    """Finishing what a dead writer left (mixed into the backend)."""

    _dir: str
    _meta: str
    _seg_path: str
    _last_seq: int
    _record_names: Callable[[str], list]
    _append_commit: Callable[[int, bytes, int], None]
    _commits_from: Callable[[int], list]
    _synced_from: Callable[[], int]
    _mark_synced: Callable[[int], None]
    _fd: int
    _off: int
    _durable: bool
    _mu: Any
    _tables: dict
    _pend_memo: Optional[tuple]
    _refresh: Callable[[], tuple]
    _read_file: Callable[..., tuple]
    _write_record: Callable[..., Any]
    _delete_record: Callable[[str, str], None]
    _lock: Callable[[], None]
    _try_lock: Callable[[], bool]
    _unlock: Callable[[], None]

    def _recover_if_free(self) -> bool:
        """If no writer holds the lock (a dead one may have left a commit undone), take it
        and recover. False: the lock was busy (its holder recovers before it commits)."""
        if not self._try_lock():
            return False
        try:
            with self._mu:
                self._recover_locked()
        finally:
            self._unlock()
        return True

    def _recover_locked(self) -> bool:
        """With the lock and ``_mu`` held: cut a torn tail and finish an undone commit
        (True if there was one)."""
        _, pend = self._refresh()
        if pend is None:
            return False
        if pend.garbage is not None:
            os.ftruncate(self._fd, pend.garbage)
            if self._durable:
                datasync(self._fd)
        if pend.commit is not None:
            if self._durable:
                datasync(self._fd)
            self._replay([pend.commit], compare=False)
            write_all(self._fd, b'{"done":%d}\n' % pend.commit["seq"])
        self._pend_memo = None
        _, after = self._refresh()
        if after is not None:
            raise StoreError(f"cannot recover the commit log of {self._dir}")
        return pend.commit is not None

    def _replay(self, commits: list, compare: bool) -> int:
        """Write the final state of every record the commits touch; returns files written.
        ``compare``: leave files that already hold that state alone."""
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
            self._write_record(table, id, encode(doc) + b"\n", None if key is None else key[1])
            written += 1
        return written

    def _check_boot(self) -> None:
        """After a reboot (or without a boot id), replay onto the record files every commit they
        were not known to hold durably (from ``.meta/synced`` on: see :mod:`.retention`)."""
        boot = boot_id()
        if boot is not None and self._read_boot() == boot:
            return
        self._lock()
        try:
            if boot is not None and self._read_boot() == boot:
                return
            with self._mu:
                self._recover_locked()
                if self._replay(self._commits_from(self._synced_from()), compare=True):
                    syncfs(self._fd)
                self._tables.clear()
                self._mark_synced(self._last_seq + 1)
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
        boot = boot_id()
        if boot is None:
            return
        path = os.path.join(self._meta, "boot")
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            write_all(fd, boot.encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(self._meta)

    # -- a log that lost its last commits ------------------------------------------------------
    def _write_head(self) -> None:
        """Remember the last seq in ``.meta/head`` (at close and segment switches; not synced:
        a stale, lower head only means less checking)."""
        try:
            write_int(os.path.join(self._meta, "head"), self._last_seq, durable=False)
        except OSError:
            pass  # a read-only or full filesystem: the head is only a check

    def _read_head(self) -> int:
        return read_int(os.path.join(self._meta, "head")) or 0

    def _check_head(self) -> None:
        """If the log ends before the last seq known to have been committed (its last lines
        were cut off: a restored backup, a truncating tool), record the current state of every
        record those lost commits wrote as one repair commit numbered past them, so that
        ``changes()`` never ends at versions older than the record files and no seq repeats."""
        if self._read_head() <= self._last_seq:
            return
        self._lock()
        try:
            with self._mu:
                self._refresh()
                head = self._read_head()
                if head > self._last_seq:
                    self._repair_lost_tail(head)
        finally:
            self._unlock()

    def _repair_lost_tail(self, head: int) -> None:
        newer = []  # (table, id, doc) of records written by commits the log lost
        for table in sorted(_table_dirs(self._dir)):
            for id in sorted(self._record_names(table)):
                doc, _ = self._read_file(table, id)
                if isinstance(doc, dict) and doc["_version"] > self._last_seq:
                    newer.append((table, id, doc))
        seq = max([head, *(doc["_version"] for _, _, doc in newer)])
        parts = [
            b'{"table":"%s","id":"%s","op":"update","doc":%s}'
            % (table.encode(), id.encode(), encode(doc))
            for table, id, doc in newer
        ]
        _log.warning(
            "the commit log %s ends at seq %d but seq %d was committed: its last lines were "
            "lost; recorded the %d record(s) they wrote as repair commit %d",
            self._seg_path,
            self._last_seq,
            head,
            len(newer),
            seq,
        )
        line = commit_line(seq, time.time(), parts)
        self._append_commit(self._fd, line, os.fstat(self._fd).st_size)
        write_all(self._fd, b'{"done":%d}\n' % seq)
        self._refresh()


def _table_dirs(project_dir: str) -> list[str]:
    with os.scandir(project_dir) as it:
        return [
            e.name for e in it if TABLE_RE.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
        ]
