"""Group commit across processes: a writer that finds the lock taken posts its batch, and the
next writer to hold the lock commits it together with its own.

Each backend object that has had to wait keeps a mailbox, ``.meta/mail/<pid>-<random>`` (0600),
holding one record written whole at offset 0 -- a state byte, the length and CRC-32 of the
payload, then the payload (JSON):

* ``P`` posted by its owner before it blocks on the lock: ``{"id": ..., "reqs": [...]}``, the
  requests of its batch (:mod:`.group`) with their writes and checks;
* ``T`` taken: a lock holder put these requests into commit ``seq`` and wrote, before that
  commit's line, where each one's changes are in it (or the error its checks raised);
* ``D`` done: the same, once the commit is finished -- or a taken record resolved later.

Only a lock holder reads other mailboxes or writes ``T``/``D``, and it leaves no ``T`` behind
when it lets the lock go: a commit that does not happen puts its mailboxes back to ``P``. So a
``T`` found by the next holder was left by a writer that died; right after recovery, before any
commit can reuse the number, ``seq <= last seq`` tells whether that commit happened (``D``) or
was cut off with its torn line (``P`` again). The owner, once it holds the lock, reads its own
record: ``D`` with its id gives each request its result (its changes are read back from the
log); anything else means nobody took it, and it commits its batch itself.
"""

from __future__ import annotations

import os
import struct
import uuid
import zlib
from typing import Any, Optional

from ...errors import ConflictError, CorruptRecordError, NotFoundError, StoreError
from ..base import Write
from .files import FILE_MODE, decode, encode, makedirs

MAIL_DIR = "mail"
#: a batch whose posted record would be larger than this is not posted (its owner leads)
MAX_POST = 1 << 20
_HEAD = struct.Struct("<cII")  # state, payload length, CRC-32 of the payload
_ERRORS = {"ConflictError": ConflictError, "NotFoundError": NotFoundError}
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _record(state: bytes, payload: dict) -> bytes:
    data = encode(payload)
    return _HEAD.pack(state, len(data), zlib.crc32(data)) + data


def _read(fd: int) -> tuple[bytes, Optional[dict]]:
    """(state, payload) of a mailbox; (b"", None) for an empty, torn or foreign one."""
    head = os.pread(fd, _HEAD.size, 0)
    if len(head) < _HEAD.size:
        return b"", None
    state, size, crc = _HEAD.unpack(head)
    if size > MAX_POST:  # not a record of ours (and not worth reading)
        return b"", None
    data = os.pread(fd, size, _HEAD.size)
    if len(data) != size or zlib.crc32(data) != crc:
        return b"", None
    try:
        payload = decode(data)
    except (ValueError, RecursionError):
        return b"", None
    return (state, payload) if isinstance(payload, dict) else (b"", None)


def encode_requests(requests: list) -> list:
    return [
        {
            "writes": [[w.kind, w.table, w.id, w.doc] for w in r.writes],
            "checks": [[t, i, v] for (t, i), v in r.checks.items()],
        }
        for r in requests
    ]


def decode_request(item: dict) -> tuple[list[Write], dict]:
    writes = [Write(k, t, i, d) for k, t, i, d in item["writes"]]
    return writes, {(t, i): v for t, i, v in item["checks"]}


def outcome(req: Any, seq: int) -> dict:
    """What a taken request's owner needs: its span of commit ``seq``'s changes, or its
    error (a failed check)."""
    exc = req.error
    if exc is not None:
        return {"error": type(exc).__name__, "message": str(exc)}
    return {"seq": seq, "span": list(req.span)}


def error_of(found: dict) -> StoreError:
    cls = _ERRORS.get(found["error"])
    if cls is None:  # CorruptRecordError carries a path: keep the message, name the kind
        return CorruptRecordError(found["message"], "")
    return cls(found["message"])


class Mailbox:
    """This backend object's own mailbox (made on first use)."""

    def __init__(self, meta: str) -> None:
        self.pid = os.getpid()
        self.dir = os.path.join(meta, MAIL_DIR)
        makedirs(self.dir)
        self.name = f"{self.pid}-{uuid.uuid4().hex[:12]}"
        path = os.path.join(self.dir, self.name)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, FILE_MODE)
        self.posted: Optional[str] = None

    def post(self, requests: list) -> bool:
        """Leave ``requests`` for the next lock holder (before blocking on the lock); False
        when they are too large, or cannot be written (the owner then commits them itself)."""
        self.posted = uuid.uuid4().hex
        record = _record(b"P", {"id": self.posted, "reqs": encode_requests(requests)})
        try:
            if len(record) <= MAX_POST and os.pwrite(self.fd, record, 0) == len(record):
                return True
        except OSError:
            pass
        self.posted = None
        return False

    def done(self) -> Optional[list]:
        """With the lock: the outcomes a live holder left for what was posted (``D``), or
        None (not taken, or taken by a holder that died: see :meth:`take_back`)."""
        state, payload = _read(self.fd)
        if state == b"D" and payload is not None and payload.get("id") == self.posted:
            self.posted = None
            return payload["outcomes"]
        return None

    def take_back(self, last_seq: int) -> Optional[list]:
        """With the lock, after recovery: the outcomes a holder left for what was posted
        (None: not taken, and now withdrawn)."""
        posted, self.posted = self.posted, None
        state, payload = _read(self.fd)
        if (
            payload is not None
            and payload.get("id") == posted
            and _happened(state, payload, last_seq)
        ):
            return payload["outcomes"]
        os.pwrite(self.fd, _HEAD.pack(b"E", 0, 0), 0)
        return None

    def close(self) -> None:
        os.close(self.fd)
        try:
            os.unlink(os.path.join(self.dir, self.name))
        except OSError:
            pass


class Posted:
    """Another process's posted batch, opened by a lock holder."""

    __slots__ = ("fd", "id", "reqs", "state", "payload")

    def __init__(self, fd: int, state: bytes, payload: dict) -> None:
        self.fd, self.state, self.payload = fd, state, payload
        self.id = payload.get("id")
        self.reqs: list = []

    def write(self, state: bytes, seq: Optional[int] = None) -> None:
        """``T``/``D`` with the outcomes of ``reqs`` in commit ``seq``; ``P``: posted again."""
        payload = {"id": self.id, "reqs": self.payload["reqs"]}
        if seq is not None:
            payload["seq"], payload["outcomes"] = seq, [outcome(r, seq) for r in self.reqs]
        os.pwrite(self.fd, _record(state, payload), 0)

    def resolve(self, last_seq: int) -> None:
        """A ``T`` left by a holder that died: done if its commit happened, else posted."""
        if _happened(self.state, self.payload, last_seq):
            os.pwrite(self.fd, _record(b"D", self.payload), 0)
        else:
            self.write(b"P")

    def close(self) -> None:
        os.close(self.fd)


def _happened(state: bytes, payload: dict, last_seq: int) -> bool:
    """Whether a ``T``/``D`` record's commit is in the log (read right after recovery: see the
    module docstring)."""
    if state == b"D":
        return True
    seq = payload.get("seq")
    return state == b"T" and isinstance(seq, int) and seq <= last_seq


def mark_taken(posted: list[Posted], seq: int) -> None:
    for p in posted:
        p.write(b"T", seq)


def mark_done(posted: list[Posted], seq: int) -> None:
    """After the commit: a mailbox that cannot say so stays taken, which the next holder
    resolves from the log as done (the commit is there): never an error of this commit."""
    _each(posted, b"D", seq)


def mark_posted(posted: list[Posted]) -> None:
    """The commit did not happen: every batch taken is left for its owner again (one that
    cannot be rewritten stays taken under a number no commit has: the next holder resolves
    it as posted)."""
    _each(posted, b"P", None)


def _each(posted: list[Posted], state: bytes, seq: Optional[int]) -> None:
    try:
        for p in posted:
            try:
                p.write(state, seq)
            except OSError:
                pass
    finally:
        close_all(posted)


def close_all(posted: list[Posted]) -> None:
    for p in posted:
        p.close()


def open_posted(meta: str, own: Optional[str]) -> list[Posted]:
    """Every other mailbox in state ``P`` or ``T`` (with the lock held)."""
    mail = os.path.join(meta, MAIL_DIR)
    try:
        names = os.listdir(mail)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if name == own:
            continue
        try:
            fd = os.open(os.path.join(mail, name), os.O_RDWR | _NOFOLLOW)
        except OSError:
            continue
        state, payload = _read(fd)
        if state in (b"P", b"T") and payload is not None:
            found.append(Posted(fd, state, payload))
            continue
        os.close(fd)
        if _dead(name):  # left by a killed process, nothing in it: tidy up
            try:
                os.unlink(os.path.join(mail, name))
            except OSError:
                pass
    return found


def _dead(name: str) -> bool:
    """Whether the process a mailbox is named after no longer runs."""
    try:
        os.kill(int(name.split("-", 1)[0]), 0)
    except ProcessLookupError:
        return True
    except (ValueError, OSError):
        return False
    return False
