"""Log segment files: their names, their two forms, and the one reader of both.

A segment is ``.meta/log/<first>.jsonl``, ``first`` its first commit number (20 digits). Once
it is closed (it ends with its ``{"next":...}`` line) and the record files of its commits are
known to be on disk (:mod:`.retention`), it is compressed in the background into
``<first>.jsonl.gz``, a gzip file (``zcat`` reads it) holding exactly the same bytes:

1. the ``.jsonl`` is read and compressed, and the result checked to decompress to it;
2. it is written to ``<first>.jsonl.gz.tmp`` and fsynced, renamed to ``<first>.jsonl.gz``, and
   the directory fsynced;
3. the ``.jsonl`` is removed.

A crash at any point leaves the segment readable: while the ``.jsonl`` exists it is the form
read (a ``.gz`` beside it is an unfinished compression: the next pass does it again and
replaces it), and a ``.tmp`` is only ever a leftover, removed by the next pass. Segments are
compressed oldest first and a pass stops at the first it cannot compress, so a compressed
segment's predecessors are all compressed or removed (a process following the log from an
old segment finds that segment's file unlinked when it finds the next one gone).

Everything that reads a segment -- ``changes()``, replay after a reboot, reopening the log,
``doctor`` -- reads it through :func:`read_segment`, and lists segments with :func:`segments`.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from typing import Optional

from ...errors import CorruptRecordError
from .files import FILE_MODE, fsync_dir, write_all

SEG_RE = re.compile(r"(\d{20})\.jsonl(\.gz)?\Z")
GZ = ".gz"
TMP = ".tmp"
_GZIP_WBITS = 31  # zlib's gzip container (header and CRC-32/size trailer)


def seg_name(first: int) -> str:
    """The name of segment ``first`` as written, and as "next" pointers name it."""
    return f"{first:020d}.jsonl"


def segments(logdir: str) -> list[int]:
    """The first commit numbers of the segments in ``logdir`` (either form), ascending."""
    return sorted({int(m.group(1)) for m in map(SEG_RE.match, os.listdir(logdir)) if m})


class Memo:
    """The last compressed segment a reader decompressed, kept (compressed segments never
    change, and ``changes()`` from an old position -- the amortised prune reads the oldest
    kept change every :data:`~conductor_store.retention.PRUNE_EVERY_COMMITS` commits -- reads
    the same one again). Costs one segment's bytes of memory."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple = (None, b"")  # ((first, inode, size, mtime), the bytes)


def read_segment(logdir: str, first: int, memo: Optional[Memo] = None) -> tuple[str, bytes]:
    """(the path read, the bytes) of segment ``first``, from whichever form holds it: the
    ``.jsonl`` while it exists, else the ``.jsonl.gz`` (from ``memo`` if it is the one last
    read through it). ``FileNotFoundError``: neither exists (removed by compaction);
    ``CorruptRecordError`` naming the ``.gz`` if it does not decompress (truncated, a flipped
    byte: gzip's CRC-32 catches it)."""
    path = os.path.join(logdir, seg_name(first))
    try:
        with open(path, "rb") as f:
            return path, f.read()
    except FileNotFoundError:
        path += GZ  # compressed meanwhile, or long ago
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        key = (first, st.st_ino, st.st_size, st.st_mtime_ns)
        if memo is not None and memo.last[0] == key:
            return path, memo.last[1]
        raw = f.read()
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise CorruptRecordError(
            f"corrupt compressed commit log {path}: {exc} (the record files still hold the "
            "data; the change log of that segment is lost)",
            path,
        ) from None
    if memo is not None:
        memo.last = (key, data)
    return path, data


def compress_segment(logdir: str, first: int, nxt: int, level: int) -> bool:
    """Replace segment ``first`` by its compressed form, atomically (the steps of the module
    docstring), if it is closed by its pointer to segment ``nxt`` (False: it is not; an empty
    segment after it without that pointer is an unfinished rotation). The caller holds the
    compression lock, so no one else writes the ``.tmp`` or removes the ``.jsonl`` but
    compaction; when compaction removed it meanwhile, the ``.gz`` goes too."""
    plain = os.path.join(logdir, seg_name(first))
    with open(plain, "rb") as f:
        data = f.read()
    if not data.endswith(b'{"next":"%s"}\n' % seg_name(nxt).encode()):
        return False
    packer = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)  # (compress(wbits=): 3.11+)
    blob = packer.compress(data) + packer.flush()
    if zlib.decompress(blob, _GZIP_WBITS) != data:  # never trade the only copy for a bad one
        raise OSError(f"compressing {plain} did not round-trip")
    tmp = plain + GZ + TMP
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        write_all(fd, blob)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, plain + GZ)
    fsync_dir(logdir)
    try:
        os.unlink(plain)
    except FileNotFoundError:  # compacted while we compressed it
        remove_segment(logdir, first)
    return True


def remove_segment(logdir: str, first: int) -> None:
    """Remove segment ``first`` in both forms, the ``.jsonl`` first (:func:`compress_segment`
    relies on that order)."""
    for name in (seg_name(first), seg_name(first) + GZ):
        try:
            os.unlink(os.path.join(logdir, name))
        except FileNotFoundError:
            pass


def remove_leftovers(logdir: str) -> None:
    """Remove the ``.tmp`` files of interrupted compressions (with the compression lock)."""
    for name in os.listdir(logdir):
        if name.endswith(GZ + TMP) and SEG_RE.match(name[: -len(TMP)]):
            os.unlink(os.path.join(logdir, name))
