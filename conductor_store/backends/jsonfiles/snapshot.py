"""Per-table snapshots of the reader cache, so that a reopened table is not parsed file by file.

``.meta/snapshot/<table>`` holds every record of one table as the reader cache (:mod:`.cache`)
had it: its document, the stat key ``(inode, size, mtime_ns)`` its record file had when it was
read, and the log position (seq) the whole is valid at. Two lines::

    {"format":1,"table":"tasks","seq":41,"since":1764579600123456789,"count":2,"crc":123}
    {"ids":["T1","T2"],"keys":[1234,87,1764579599000000000,...],"docs":[{"id":"T1",...},...]}

``crc`` is the CRC-32 of the second line, ``since`` a time before every stat key in it was
taken; ``keys`` holds three numbers per record.

It is a cache, never the truth: the record files and the log stay authoritative. The first
``find``/``count``/``scan`` of a table this process has not loaded (:meth:`Snapshots._prime`)
reads the snapshot, leaves out every record a commit after its seq touched (``changes()``;
if the log no longer reaches back that far, the snapshot is not used), and puts the rest into
the cache as if their files had been read with those stat keys. Loading the table then
``lstat``s every record file and parses only those whose key differs (a hand edit, a file
replaced), reads files the snapshot does not have and drops records whose file is gone -- the
rule ``get`` follows for a cached file. A snapshot that cannot be read, is corrupt, of another
format or another table, or a symbolic link, is ignored (the table is read from its files) and
replaced; it is never an error a caller sees.

A stat key does not change when a file is rewritten in place with the same size within one
timestamp tick. Commits doing that are caught by the log; for hand edits a record whose mtime
is within :data:`RACY_NS` (:data:`RACY_COARSE_NS` on whole-second timestamps) of when its key
was taken is never written to a snapshot, so an edit made after the key was taken always
shows in it (git's "racily clean" rule).

The snapshot is written after a read that had to parse at least :data:`MIN_PARSED` files and
a sixteenth of the table, in that call, outside the cache lock (never on the commit path): to
``<table>.<pid>.<thread>.tmp`` beside it (0600, never through a symbolic link) and renamed over
it, unsynced (a torn one fails its CRC). Failing to write it (a read-only store) is ignored.

Encoding, measured at 100k records of ~110 bytes (an 18 MB snapshot; CPU time, collector
paused): ``json.loads`` of one array of per-record entries 134 ms (+ 40 ms to build the
dicts), of one line per record 660 ms, ``marshal.loads`` 127 ms; the three columns above
parsed and zipped into the two dicts 148 ms in all. With the collector running the same
parse takes 480 ms. So JSON in columns (``marshal`` would not be faster, and its input must
be trusted), built with the collector paused (:func:`.cache.gc_paused`). Where the first
``find`` of such a table then goes: see ``docs/backends.md``.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from operator import itemgetter
from stat import S_ISREG
from typing import Any, Callable, Iterable, NamedTuple, Optional

from ...errors import StoreError
from .cache import Table, gc_paused
from .files import FILE_MODE, decode, mkdir, write_all

FORMAT = 1
#: a read that parsed fewer record files than this does not write a snapshot
MIN_PARSED = 1000
#: how close to the time its stat key was taken a record's mtime makes it "racy" (not saved)
RACY_NS = 100_000_000
RACY_COARSE_NS = 2_000_000_000  # timestamps in whole seconds (ext3, HFS+; FAT: 2 s)
SNAPSHOT_DIR = "snapshot"
#: how often priming re-reads the log when commits keep landing meanwhile
_PRIME_TRIES = 3

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW
_ID = itemgetter("id")
_ENCODER = json.JSONEncoder(
    ensure_ascii=True, check_circular=False, allow_nan=False, separators=(",", ":")
)


class Snapshot(NamedTuple):
    seq: int
    since: int
    docs: dict  # id -> document
    keys: dict  # id -> the stat key its file had when the document was read


def settled(docs: dict, keys: Iterable, since: int) -> list:
    """(id, stat key, doc) of the records whose file's mtime is far enough before ``since``
    (a time before their stat keys were taken) that a rewrite of the same size afterwards
    would change the key. ``keys``: (id, stat key or None) pairs."""
    fine, coarse = since - RACY_NS, since - RACY_COARSE_NS
    return [
        (id, key, docs[id])
        for id, key in keys
        if key is not None
        and id in docs
        and (key[2] < coarse or (key[2] < fine and key[2] % 1_000_000_000))
    ]


def encode_snapshot(table: str, seq: int, since: int, entries: list) -> bytes:
    """``entries``: (id, stat key, doc) triples."""
    ids = [e[0] for e in entries]
    keys = [n for e in entries for n in e[1]]
    body = _ENCODER.encode({"ids": ids, "keys": keys, "docs": [e[2] for e in entries]})
    data = body.encode("ascii")
    head = {"format": FORMAT, "table": table, "seq": seq, "since": since}
    head.update(count=len(entries), crc=zlib.crc32(data))
    return _ENCODER.encode(head).encode("ascii") + b"\n" + data + b"\n"


def decode_snapshot(data: bytes, table: str) -> Optional[Snapshot]:
    """The snapshot ``data`` holds, or None if it is not a whole valid one of ``table``."""
    nl = data.find(b"\n")
    if nl < 0 or data[-1:] != b"\n":
        return None
    try:
        head = decode(data[:nl])
        body = data[nl + 1 : -1]
        if (
            not isinstance(head, dict)
            or head.get("format") != FORMAT
            or head.get("table") != table
            or type(head.get("seq")) is not int
            or type(head.get("since")) is not int
            or head.get("crc") != zlib.crc32(body)
        ):
            return None
        with gc_paused():
            cols = decode(body)
            ids, keys, docs = cols["ids"], cols["keys"], cols["docs"]
            n = head.get("count")
            if not len(ids) == len(docs) == n or len(keys) != 3 * n:
                return None
            if list(map(_ID, docs)) != ids:  # (only a dict has an "id" item)
                return None
            it = iter(keys)
            snap = Snapshot(head["seq"], head["since"], dict(zip(ids, docs)), {})
            snap.keys.update(zip(ids, zip(it, it, it)))  # (not ints: never a file's key)
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    return snap if len(snap.docs) == n else None


class Snapshots:
    """Reading and writing table snapshots (mixed into the backend)."""

    _meta: str
    _mu: Any
    _tables: dict
    _last_seq: int
    _refresh: Callable[[], tuple]
    _table: Callable[[str], Table]
    changes: Callable[..., list]
    pruned_through: Callable[[], int]

    # -- reading ---------------------------------------------------------------------------
    def _prime(self, table: str) -> None:
        """Put a table's snapshot into the cache, unless the table is loaded already."""
        if self._complete(table):
            return
        snap = self._read_snapshot(table)
        if snap is None:
            return
        touched: set = set()
        start, upto = snap.seq, None
        for _ in range(_PRIME_TRIES):
            with self._mu:
                self._refresh()
                t = self._tables.get(table)
                if t is not None and t.complete:
                    return
                if upto == self._last_seq:  # the log read covers every commit after the seq
                    self._adopt(table, snap, touched)
                    return
                upto = self._last_seq
            try:
                changes = self.changes(start, [table])
                if self.pruned_through() > start:
                    return  # the log no longer says what changed after the snapshot
            except (StoreError, OSError):
                return
            touched.update(ch.id for ch in changes)
            start = upto

    def _complete(self, table: str) -> bool:
        with self._mu:
            t = self._tables.get(table)
            return t is not None and t.complete

    def _adopt(self, table: str, snap: Snapshot, touched: set) -> None:
        """The snapshot's records no commit after it touched, into the cache (with ``_mu``)."""
        docs, keys = snap.docs, snap.keys
        for id in touched:
            docs.pop(id, None)
            keys.pop(id, None)
        t = self._table(table)
        t.since = min(t.since, snap.since)
        if not t.keys:
            t.docs, t.keys = docs, keys
            return
        for id, doc in docs.items():
            if id not in t.keys:  # (what this process read itself is at least as recent)
                t.put(id, doc, keys[id])

    def _read_snapshot(self, table: str) -> Optional[Snapshot]:
        try:
            dfd = os.open(f"{self._meta}/{SNAPSHOT_DIR}", _DIR_FLAGS)
        except OSError:
            return None
        try:
            fd = os.open(table, _READ_FLAGS, dir_fd=dfd)
        except OSError:  # none, or a symbolic link (refused)
            return None
        finally:
            os.close(dfd)
        try:
            with os.fdopen(fd, "rb") as f:
                if not S_ISREG(os.fstat(f.fileno()).st_mode):
                    return None
                data = f.read()
        except OSError:
            return None
        return decode_snapshot(data, table)

    # -- writing ---------------------------------------------------------------------------
    def _save_snapshot(self, table: str) -> None:
        """Write the table's snapshot if loading it parsed many files (see the module doc)."""
        with self._mu:
            t = self._tables.get(table)
            if t is None or not t.complete or t.parsed < max(MIN_PARSED, len(t.keys) // 16):
                return
            t.parsed = 0  # (one writer per load)
            with gc_paused():
                seq, since, docs, keys = self._last_seq, t.since, dict(t.docs), list(t.keys.items())
        with gc_paused():
            data = encode_snapshot(table, seq, since, settled(docs, keys, since))
        try:
            self._write_snapshot(table, data)
        except OSError:
            pass  # (a read-only store, a full disk: the next load reads the files)

    def _write_snapshot(self, table: str, data: bytes) -> None:
        path = f"{self._meta}/{SNAPSHOT_DIR}"
        mkdir(path)
        dfd = os.open(path, _DIR_FLAGS)  # (a symbolic link: ELOOP, nothing written)
        tmp = f"{table}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, _WRITE_FLAGS, FILE_MODE, dir_fd=dfd)
            try:
                os.fchmod(fd, FILE_MODE)
                write_all(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, table, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise
        finally:
            os.close(dfd)
