"""The commit log: segments, lines, the fsync policy, and following the log.

The log is the redo log and the change log in one, in ``.meta/log/<seq>.jsonl`` segments named
by their first commit number (20 digits; closed ones are compressed to ``<seq>.jsonl.gz`` in
the background, and both forms read through one function: :mod:`.segments`). Every commit
appends one line holding the full documents it wrote, then (after the record files are
written) a short "done" line::

    {"seq":7,"time":1764579600.123,"changes":[{"table":"tasks","id":"T1","op":"update",...}]}
    {"done":7}

A segment ends, when it has grown past ``SEGMENT_BYTES``, with ``{"next":"<file name>"}``.

Fsync policy: the commit line is ``fdatasync``'d before the record files are touched (skipped
with ``durable=False``) -- **the commit point**. Record files and done lines are not synced: the
writer that starts a new segment first calls ``syncfs``, after which every record file of every
earlier segment is on disk, so after a power cut only the current segment needs replaying.

Each process follows the log (:meth:`LogView._refresh`): it ``fstat``s the current segment
(~1 us) and, if it grew, parses the new lines and applies the finished commits to its cache. A
commit line without its done line is *pending* (:class:`Pending`): its record files may be half
written.
"""

from __future__ import annotations

import os
import time
import zlib
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from ...errors import CommitUnknownError, CorruptRecordError
from ..base import Change
from .files import FILE_MODE, datasync, decode, fsync_dir, write_all
from .segments import SEG_RE, Memo, read_segment, seg_name, segments

_NO_CHANGES: list = []
_OPS = ("insert", "update", "delete")


def commit_lines(data: bytes, base: int) -> Iterator[tuple[int, int, int]]:
    """(seq, start, end) of every commit line in ``data`` (whole lines), offsets + ``base``."""
    pos, n = 0, len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return
        if data.startswith(b'{"seq":', pos):
            seq = _seq_of(data, pos, nl)
            if seq is not None:
                yield seq, base + pos, base + nl
        pos = nl + 1


def _seq_of(data: bytes, pos: int, nl: int) -> Optional[int]:
    """The number of the commit line at ``pos``, read without parsing it (None: unreadable)."""
    comma = data.find(b",", pos + 7, nl)
    try:
        return int(data[pos + 7 : comma])
    except ValueError:
        return None


def parse_line(line: bytes) -> Optional[dict]:
    """A log line (without its newline) as a dict, or None if it is not a whole valid one:
    torn, corrupt, or a commit line whose checksum does not match."""
    try:
        obj = decode(line)
    except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError
        return None
    if not isinstance(obj, dict) or ("seq" in obj and not _crc_ok(line, "time" in obj)):
        return None
    return obj


def _crc_ok(line: bytes, required: bool) -> bool:
    """A commit line ends with ``,"crc":N}``, N the CRC-32 of what precedes it (lines
    written before checksums were added have none and are accepted)."""
    i = line.rfind(b',"crc":')
    if i < 0:
        return not required
    try:
        return zlib.crc32(line[:i]) == int(line[i + 7 : -1])
    except ValueError:
        return False


def commit_line(seq: int, when: float, parts: list[bytes]) -> bytes:
    """A commit's log line: its number (first: ``commit_lines`` finds it without parsing),
    wall-clock time, changes and checksum."""
    body = b'{"seq":%d,"time":%r,"changes":[%s]' % (seq, when, b",".join(parts))
    return body + b',"crc":%d}\n' % zlib.crc32(body)


def load_commit(line: bytes, path: str, offset: int) -> dict:
    """A finished commit's line, checked: ``CorruptRecordError`` naming the segment if it is
    not a whole valid commit line (a flipped byte, an edit)."""
    obj = parse_line(line)
    if obj is None or not _well_formed(obj):
        raise CorruptRecordError(
            f"corrupt commit log {path} at byte {offset}: not a valid commit line "
            "(the record files still hold the data; the change log there is lost)",
            path,
        )
    return obj


def _well_formed(obj: dict) -> bool:
    changes = obj.get("changes")
    if not isinstance(obj.get("seq"), int) or not isinstance(changes, list):
        return False
    return all(
        isinstance(ch, dict)
        and isinstance(ch.get("table"), str)
        and isinstance(ch.get("id"), str)
        and ch.get("op") in _OPS
        and (ch.get("doc") is None) == (ch.get("op") == "delete")
        and (ch.get("doc") is None or isinstance(ch["doc"], dict))
        for ch in changes
    )


def last_line(data: bytes) -> dict:
    """The last whole line of a segment's bytes, parsed ({} if it is none)."""
    return parse_line(data.rstrip(b"\n").rsplit(b"\n", 1)[-1]) or {}


def last_done(data: bytes) -> tuple[int, Optional[int]]:
    """Offset just after the last finished commit of a segment, and its seq (None: none)."""
    end = data.rfind(b"\n")
    later_commit = False
    while end >= 0:
        start = data.rfind(b"\n", 0, end) + 1
        obj = parse_line(data[start:end])
        if obj is not None:
            if "done" in obj:
                return end + 1, obj["done"]
            if "seq" in obj:
                if later_commit:  # a commit followed by another one was finished
                    return end + 1, obj["seq"]
                later_commit = True
        end = start - 1
    return 0, None


class Pending:
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


@dataclass
class Tail:
    """What :func:`parse_tail` found in the bytes after the view's position."""

    base: int = 0  # the offset the parsed bytes start at
    done: list = field(default_factory=list)  # finished commits, in order
    off: int = 0  # just after the last finished commit (or done line)
    commit: Optional[dict] = None  # a commit line not (yet) followed by its done line
    start: int = 0
    end: int = 0
    garbage: Optional[int] = None  # where bytes that are no whole valid line start
    next: Any = None  # the segment's "next" pointer
    next_at: int = 0  # where that pointer line starts


def parse_tail(data: bytes, base: int) -> Tail:
    """Parse the log bytes ``data`` found at offset ``base`` (pure: no I/O)."""
    tail = Tail(base=base, off=base)
    pos, n = 0, len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        obj = None if nl < 0 else parse_line(data[pos:nl])
        if obj is None:
            tail.garbage = base + pos
            break
        if "seq" in obj:
            if tail.commit is not None:  # followed by another commit: it was finished
                tail.done.append(tail.commit)
                tail.off = tail.end
            tail.commit, tail.start, tail.end = obj, base + pos, base + nl + 1
        elif "done" in obj:
            if tail.commit is not None and obj["done"] == tail.commit["seq"]:
                tail.done.append(tail.commit)
                tail.commit = None
            if tail.commit is None:
                tail.off = base + nl + 1
        elif "next" in obj and tail.commit is None:
            tail.next, tail.next_at = obj["next"], base + pos
            break
        else:
            tail.garbage = base + pos
            break
        pos = nl + 1
    return tail


class LogView:
    """This process's position in the log (mixed into the backend). State: ``_fd`` (the current
    segment, O_APPEND), ``_seg_first``, ``_off`` (just after the last finished commit applied),
    ``_last_seq``, ``_pend_memo``, ``_idx`` (the segment's commit lines, for changes()) and
    ``_gz_memo`` (the compressed segment changes() read last)."""

    _logdir: str
    _durable: bool
    _fd: int
    _seg_first: int
    _seg_path: str
    _off: int
    _last_seq: int
    _pend_memo: Optional[tuple]
    _idx: list
    _idx_end: int
    _gz_memo: Memo
    _mu: Any

    _tables: dict
    _apply: Callable[[dict], None]  # the reader cache's
    pruned_through: Callable[[], int]  # retention's
    _write_head: Callable[[], None]  # recovery's

    # -- segments ------------------------------------------------------------------------
    def _segments(self) -> list[int]:
        return segments(self._logdir)

    def _seg_file(self, first: int) -> str:
        return os.path.join(self._logdir, seg_name(first))

    def _create_first_segment(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
        os.close(os.open(self._seg_file(1), flags, FILE_MODE))
        fsync_dir(self._logdir)

    def _open_log(self, segs: list[int]) -> None:
        """Open the current segment of ``segs`` and take the position of its last commit."""
        self._gz_memo = Memo()
        current = len(segs) - 1
        # an empty last segment whose predecessor does not point to it is an unfinished rotation
        while current > 0 and os.path.getsize(self._seg_file(segs[current])) == 0:
            pointer = last_line(read_segment(self._logdir, segs[current - 1])[1]).get("next")
            if pointer == seg_name(segs[current]):
                break
            current -= 1
        self._switch_segment(segs[current])
        data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        self._off, last = last_done(data)
        self._last_seq = segs[current] - 1 if last is None else last

    def _reopen_log(self) -> None:
        """Follow the log again from what is left of it (this view's segment was removed by a
        compaction); the cache is dropped: the record files hold every commit it missed."""
        self._tables.clear()
        self._open_log(self._segments())

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
        self._idx = []  # (seq, offset) of this segment's commit lines, for changes()
        self._idx_end = 0

    def _rotate(self, seq: int) -> None:
        """Start segment ``seq`` (lock and ``_mu`` held, the view up to date and clean). The
        record files of the segment closed here are synced later (:mod:`.retention`)."""
        for first in self._segments():  # leftovers of an unfinished rotation
            if first > self._seg_first:
                os.unlink(self._seg_file(first))
        name = seg_name(seq)
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
        os.close(os.open(os.path.join(self._logdir, name), flags, FILE_MODE))
        fsync_dir(self._logdir)
        write_all(self._fd, b'{"next":"%s"}\n' % name.encode())
        datasync(self._fd)
        self._switch_segment(seq)
        self._write_head()

    # -- appending -----------------------------------------------------------------------
    def _append_commit(self, fd: int, line: bytes, size: int) -> None:
        """Append a commit line at ``size`` and make it durable: the commit point. On any
        failure the line is taken back (the commit did not happen) and the error re-raised."""
        try:
            write_all(fd, line)
            if self._durable:
                datasync(fd)
        except BaseException as exc:
            try:
                if os.fstat(fd).st_size != size:  # (nothing to take back on a read-only fs)
                    os.ftruncate(fd, size)
                    if self._durable and isinstance(exc, OSError):
                        datasync(fd)
            except OSError:
                raise CommitUnknownError(
                    f"a commit to {self._logdir} failed ({exc}) and could not be taken back "
                    "from the log: the next commit or open may still apply it"
                ) from exc
            raise

    # -- following ------------------------------------------------------------------------
    def _refresh(self) -> tuple[list, Optional[Pending]]:
        """Apply the done commits appended since the view's position (call with ``_mu``).
        Returns (commits applied, the pending tail or None)."""
        if os.fstat(self._fd).st_size == self._off:
            return _NO_CHANGES, None
        return self._refresh_slow()

    def _refresh_slow(self) -> tuple[list, Optional[Pending]]:
        applied: list = []
        while True:
            size = os.fstat(self._fd).st_size
            if size <= self._off:
                return applied, None
            memo = self._pend_memo
            if self._memo_holds(memo, size):
                return applied, memo[1]  # type: ignore[index]
            data = os.pread(self._fd, size - self._off, self._off)
            tail = parse_tail(data, self._off)
            for commit in tail.done:
                self._apply(commit)
                applied.append(commit)
            self._off = tail.off
            if tail.next is not None:
                if self._follow(tail.next):
                    continue
                if os.fstat(self._fd).st_nlink == 0:  # compacted away under us: start again
                    self._reopen_log()
                    continue
                tail.garbage = tail.next_at  # a pointer to nothing: a lock holder cuts it off
            return applied, self._pending(tail, memo, size, data)

    def _memo_holds(self, memo: Optional[tuple], size: int) -> bool:
        """Is the pending commit already parsed still all there is after the view?"""
        if memo is None or memo[0] != (self._seg_first, self._off, size):
            return False
        pend, tail = memo[1], memo[2]
        return os.pread(self._fd, size - pend.end, pend.end) == tail

    def _follow(self, pointer: Any) -> bool:
        """Switch to the segment a "next" line names (False: there is no such segment)."""
        m = SEG_RE.match(pointer) if isinstance(pointer, str) else None
        if m is None:
            return False
        try:
            self._switch_segment(int(m.group(1)))
        except FileNotFoundError:
            return False
        return True

    def _pending(
        self, tail: Tail, memo: Optional[tuple], size: int, data: bytes
    ) -> Optional[Pending]:
        if tail.commit is None:
            self._pend_memo = None
            return None if tail.garbage is None else Pending(None, 0, 0, tail.garbage)
        if memo is not None and memo[1].seq == tail.commit["seq"] and memo[1].start == tail.start:
            pend = memo[1]  # the same pending commit (its torn tail may have grown)
            pend.garbage = tail.garbage
        else:
            pend = Pending(tail.commit, tail.start, tail.end, tail.garbage)
        self._pend_memo = ((self._seg_first, self._off, size), pend, data[tail.end - tail.base :])
        return pend

    # -- the change log --------------------------------------------------------------------
    def changes(
        self, since: int = 0, tables: list[str] | None = None, limit: int | None = None
    ) -> list[Change]:
        if limit == 0:
            return []
        since = max(since, self.pruned_through())
        with self._mu:
            self._refresh()
            end_seg, end_off, end_path = self._seg_first, self._off, self._seg_path
            if since >= self._last_seq:
                return []
            start = self._index_start(since, end_off)
            segs = [s for s in self._segments() if s <= end_seg]
            fd = os.dup(self._fd)
        wanted = None if tables is None else set(tables)
        out: list = []
        try:
            first = max(0, bisect_right(segs, since + 1) - 1)
            for seg in segs[first:]:
                if seg == end_seg:
                    path, data = end_path, os.pread(fd, end_off - start, start)
                else:
                    try:
                        path, data = read_segment(self._logdir, seg, self._gz_memo)
                    except FileNotFoundError:  # compacted meanwhile: its changes were pruned
                        continue
                base = start if seg == end_seg else 0
                if _collect(data, since, wanted, limit, out, path, base):
                    break
        finally:
            os.close(fd)
        return out

    def _index_start(self, since: int, end_off: int) -> int:
        """Offset in the current segment of the first commit after ``since`` (with ``_mu``)."""
        if self._idx_end < end_off:
            data = os.pread(self._fd, end_off - self._idx_end, self._idx_end)
            self._idx.extend((seq, s) for seq, s, _ in commit_lines(data, self._idx_end))
            self._idx_end = end_off
        i = bisect_right(self._idx, (since + 1, -1))
        return self._idx[i][1] if i < len(self._idx) else end_off


def _collect(
    data: bytes,
    since: int,
    want: Optional[set],
    limit: Optional[int],
    out: list,
    path: str,
    base: int,
) -> bool:
    """Append the changes of ``data``'s commits after ``since`` (``data`` read at ``base`` of
    segment ``path``, whole lines); True once ``limit`` is hit. Every line is checked: a
    corrupt one raises ``CorruptRecordError`` rather than being skipped or misread."""
    pos, n = 0, len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = n
        if data.startswith(b'{"seq":', pos):
            seq = _seq_of(data, pos, nl)
            if seq is None or seq > since:  # (lines before ``since`` are not even parsed)
                line = load_commit(data[pos:nl], path, base + pos)
                if line["seq"] > since and take_changes(line, want, limit, out):
                    return True
        elif not data.startswith(b'{"done":', pos) and not data.startswith(b'{"next":', pos):
            load_commit(data[pos:nl], path, base + pos)  # raises: not a line the log holds
        pos = nl + 1
    return False


def take_changes(line: dict, want: Optional[set], limit: Optional[int], out: list) -> bool:
    """Append a commit line's changes (of tables in ``want``) to ``out``, up to ``limit``."""
    seq, when = line["seq"], line.get("time")
    for ch in line["changes"]:
        if want is None or ch["table"] in want:
            out.append(Change(seq, ch["table"], ch["id"], ch["op"], ch["doc"], when))
            if limit is not None and len(out) >= limit:
                return True
    return False
