"""The commit, in named phases (under the writers' lock, see :mod:`.locking`):

1. **read** -- bring this process's view up to date with the log (finishing a dead writer's
   commit) and read the current state of every record involved from the files;
2. **verify** -- the checks, and what each write needs (``ConflictError`` / ``NotFoundError``
   are raised here, before anything is written);
3. **stage** -- the new documents, the log line, the files to write;
4. **log** -- append the commit line and ``fdatasync`` it: **the commit point**;
5. **apply** -- write the record files in place and unlink deleted ones, then the done line; a
   failure here (say ``KeyboardInterrupt``) finishes the commit from its log line first;
6. **publish** -- into this process's cache; other processes see the done line.

Commits that threads of this process make at the same time go through these phases together,
as one batch under one number (:mod:`.group`); each member is verified on its own. A commit
that changes nothing takes no number and writes nothing. The Store has validated
tables, ids, write kinds and documents before they get here (see ``backends/base.py``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Optional

from ...errors import (
    CommitUnknownError,
    ConflictError,
    CorruptRecordError,
    NotFoundError,
    StoreError,
)
from ...validation import copy_json
from .. import jsonfiles as _pkg  # its tunables (tests and users set them there)
from ..base import Change, CommitResult, Write
from .files import datasync, encode, storage_error, write_all
from .group import MAX_BATCH, CommitQueue, Request
from .log import commit_line, take_changes
from .mailbox import (
    Mailbox,
    Posted,
    close_all,
    decode_request,
    error_of,
    mark_done,
    mark_posted,
    mark_taken,
    open_posted,
)

_NOTHING = "nothing of this commit was written"


@dataclass(slots=True)
class Staged:
    """One commit between the stage and publish phases."""

    seq: int
    time: float  # the commit's wall-clock time (Unix seconds), in its log line
    changes: list = field(default_factory=list)  # Change or None per write
    parts: list = field(default_factory=list)  # the log line's change entries
    final: dict = field(default_factory=dict)  # key -> encoded doc | None (delete)
    live: dict = field(default_factory=dict)  # key -> doc after the commit
    sizes: dict = field(default_factory=dict)  # key -> record file size (None: no file)
    cached: set = field(default_factory=set)  # keys this process caches (stat keys wanted)
    before: dict = field(default_factory=dict)  # key -> doc | None before the commit
    fd: int = -1
    at: tuple = (0, 0)  # (segment, offset) the line is appended at


def verify(current: dict, checks: dict) -> None:
    """Every check must hold on ``current`` ({key: doc | None | CorruptRecordError})."""
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


def verify_writes(writes: list[Write], current: dict) -> None:
    """Each write against the state the writes before it leave (nothing written yet)."""
    exists: dict = {}
    for w in writes:
        key = (w.table, w.id)
        cur = exists.get(key, current[key])
        if cur is not None:
            if isinstance(cur, CorruptRecordError):
                raise cur
            if w.kind == "insert":
                raise ConflictError(f"{w.table}:{w.id} already exists")
        elif w.kind == "merge":
            raise NotFoundError(f"{w.table}:{w.id} does not exist")
        exists[key] = None if w.kind == "delete" else (cur or True)


def _stage_write(st: Staged, w: Write) -> None:
    key = (w.table, w.id)
    cur = st.live[key]
    if w.kind == "delete":
        if cur is None:
            st.changes.append(None)
            return
        st.live[key] = st.final[key] = None
        st.changes.append(Change(st.seq, w.table, w.id, "delete", None, st.time))
        st.parts.append(
            b'{"table":"%s","id":"%s","op":"delete","doc":null}' % (w.table.encode(), w.id.encode())
        )
        return
    body: dict = w.doc  # type: ignore[assignment]
    if "id" in body or "_version" in body:
        body = {k: v for k, v in body.items() if k != "id" and k != "_version"}
    # a record's _version is the seq of the commit that last wrote it, so it never repeats,
    # even across delete and re-create (and past a version set by hand: it still grows)
    op: Literal["insert", "update"]
    if cur is None:
        doc, op = {"id": w.id, "_version": st.seq, **body}, "insert"
    else:
        version = max(st.seq, cur["_version"] + 1)
        if w.kind == "merge":  # (a copy: ``cur`` is the cache's)
            doc = {**copy_json(cur), **body, "_version": version}
        else:
            doc = {"id": w.id, "_version": version, **body}
        op = "update"
    data = encode(doc)
    st.live[key] = doc
    st.final[key] = data
    st.changes.append(Change(st.seq, w.table, w.id, op, doc, st.time))
    st.parts.append(
        b'{"table":"%s","id":"%s","op":"%s","doc":%s}'
        % (w.table.encode(), w.id.encode(), op.encode(), data)
    )


class Committer:
    """The write side of the backend (mixed in)."""

    _dir: str
    _fd: int
    _off: int
    _seg_first: int
    _last_seq: int
    _pid: int
    _durable: bool
    _pend_memo: Any
    _mu: Any
    _tables: dict
    _queue: Optional[CommitQueue] = None  # this process's group-commit queue (:mod:`.group`)
    _box: Optional[Mailbox] = None  # this process's mailbox (:mod:`.mailbox`), once needed
    _meta: str
    _try_lock: Callable[[], bool]
    changes: Callable[..., list]
    _check_fork: Callable[[], None]
    _lock: Callable[[], None]
    _unlock: Callable[[], None]
    _read: Callable[..., Any]
    _read_keys_once: Callable[..., Any]
    _recover_locked: Callable[[], bool]
    _refresh: Callable[[], tuple]
    _probe: Callable[..., tuple]
    _table: Callable[[str], Any]
    _check_table_dir: Callable[[str], None]
    _check_unique: Callable[[dict, dict], None]
    _rotate: Callable[[int], None]
    _sync_later: Callable[[int], None]
    _append_commit: Callable[[int, bytes, int], None]
    _write_record: Callable[..., Any]
    _delete_record: Callable[[str, str], None]

    def commit(self, writes: list[Write], checks: dict) -> CommitResult:
        if self._pid != os.getpid():
            self._check_fork()
        if not writes:
            if checks:  # nothing to write: verify the versions on one consistent snapshot
                verify(self._read(self._read_keys_once, list(checks)), checks)
            return CommitResult(None, [])
        queue = self._queue
        if queue is None or queue.pid != os.getpid():
            queue = self._queue = CommitQueue()
        return queue.submit(Request(writes, checks), self._commit_batch)

    def _commit_batch(self, batch: list[Request]) -> None:
        """Commit a batch of requests (:mod:`.group`) as one: each gets its result or error.
        When the lock is taken, the batch is posted first (:mod:`.mailbox`): the holder that
        comes next may commit it with its own."""
        box = None
        if not self._try_lock():
            box = self._own_mailbox()
            if box is not None and not box.post(batch):
                box = None
            self._lock()
        try:
            outcomes = None if box is None else self._outcomes(box)
            if outcomes is None:
                self._commit_locked(batch)
        finally:
            self._unlock()
        if outcomes is not None:  # read back outside the lock
            self._posted_results(batch, outcomes)

    def _outcomes(self, box: Mailbox) -> Optional[list]:
        """With the lock: the outcomes a holder left for the batch posted, or None (withdrawn:
        commit it here). A holder that died may have taken it: recovery first then."""
        try:
            found = box.done()
            if found is None:
                with self._mu:
                    self._recover_locked()
                    last = self._last_seq
                found = box.take_back(last)
            return found
        except OSError as exc:  # another holder may have committed it: say so
            raise CommitUnknownError(
                f"a commit to the JSON store at {self._dir} was left for another writer, and "
                f"its mailbox {box.name} could not be read back ({exc.strerror or exc}): read "
                "the records to find out whether it was made"
            ) from exc

    def _commit_locked(self, batch: list[Request]) -> None:
        try:
            st, taken, posted = self._prepare(batch)
        except OSError as exc:
            raise storage_error("commit to", self._dir, exc, _NOTHING) from exc
        seq = self._write(st, posted) if st.final else None
        mark_done(posted, st.seq)
        for req, (a, b) in taken.items():
            changes = st.changes[a:b]
            wrote = any(ch is not None for ch in changes)
            req.result = CommitResult(seq if wrote else None, changes)

    def _write(self, st: Staged, posted: list[Posted]) -> int:
        """The log, apply and publish phases. The batches ``posted`` by other processes are
        marked taken before the commit point and left so when the commit may have happened
        (the next lock holder tells from the log: :mod:`.mailbox`), posted again when it
        surely did not."""
        line = commit_line(st.seq, st.time, st.parts)
        try:
            try:
                mark_taken(posted, st.seq)
                self._append_commit(st.fd, line, st.at[1])  # the commit point
            except OSError as exc:
                raise storage_error("commit to", self._dir, exc, _NOTHING) from exc
        except CommitUnknownError:
            close_all(posted)
            raise
        except BaseException:
            mark_posted(posted)
            raise
        try:
            keys = self._apply_files(st)
        except CommitUnknownError:
            close_all(posted)
            raise
        except StoreError:  # taken back (``_undo``)
            mark_posted(posted)
            raise
        except BaseException:  # finished by recovery, or left to the next holder
            close_all(posted)
            raise
        self._publish(st, keys, st.at[1] + len(line) + len(b'{"done":%d}\n' % st.seq))
        return st.seq

    def _prepare(self, batch: list[Request]) -> tuple[Staged, dict, list[Posted]]:
        """The read, verify and stage phases (nothing is written but a segment switch).
        Returns the staged commit, {request of ``batch`` taken: its slice of ``st.changes``}
        and the other processes' posted batches it also carries; a request that fails its
        checks gets its error and is left out."""
        with self._mu:
            self._recover_locked()
            posted = self._collect_posted(batch)
            try:
                return self._stage_all(batch, posted)
            except BaseException:
                close_all(posted)
                raise

    def _stage_all(self, batch: list[Request], posted: list[Posted]) -> tuple:
        """Stage this batch and the posted ones (with ``_mu``): see :meth:`_prepare`."""
        requests = batch + [r for p in posted for r in p.reqs]
        writes = [w for req in requests for w in req.writes]
        checked = {key: None for req in requests for key in req.checks}
        current, sizes = self._read_current(writes, checked)
        st = Staged(
            self._last_seq + 1, time.time(), live=dict(current), sizes=sizes, before=current
        )
        own, taken = set(batch), {}
        for req in requests:
            span = self._stage_request(st, req, current)
            if span is not None and req in own:
                taken[req] = span
        tables = self._tables
        st.cached = {
            key for key in st.final if (t := tables.get(key[0])) is not None and t.holds(key[1])
        }
        if st.final and self._off >= _pkg.SEGMENT_BYTES:
            self._rotate(st.seq)
            self._sync_later(st.seq)  # the record files so far: synced off the commit path
        st.fd, st.at = self._fd, (self._seg_first, self._off)
        return st, taken, posted

    def _collect_posted(self, batch: list[Request]) -> list[Posted]:
        """Other processes' posted batches this commit can carry (whole batches touching
        nothing an earlier request writes, up to ``MAX_BATCH`` requests); a batch a holder
        that died had taken is resolved first (mailbox.py)."""
        box = self._box
        own = box.name if box is not None and box.pid == os.getpid() else None
        written = set().union(*(r.keys for r in batch))
        count, carried = len(batch), []
        for p in open_posted(self._meta, own):
            if p.state == b"T":
                p.resolve(self._last_seq)
                p.close()
                continue
            try:
                p.reqs = [Request(*decode_request(item)) for item in p.payload["reqs"]]
            except (KeyError, TypeError, ValueError):
                p.close()
                continue
            touched = set().union(*(r.keys | set(r.checks) for r in p.reqs))
            if count + len(p.reqs) > MAX_BATCH or not written.isdisjoint(touched):
                p.close()
                continue
            written |= set().union(*(r.keys for r in p.reqs))
            count += len(p.reqs)
            carried.append(p)
        return carried

    def _own_mailbox(self) -> Optional[Mailbox]:
        """This process's mailbox for this store (None where one cannot be made)."""
        box = self._box
        if box is None or box.pid != os.getpid():
            try:
                box = self._box = Mailbox(self._meta)
            except OSError:  # a read-only store, say: commit without posting
                return None
        return box

    def _posted_results(self, batch: list[Request], outcomes: list) -> None:
        """Each request of a batch another holder committed gets its result or error."""
        for req, found in zip(batch, outcomes):
            if "error" in found:
                req.error = error_of(found)
                continue
            seq, (a, b) = found["seq"], found["span"]
            if a == b:
                req.result = CommitResult(None, [None] * len(req.writes))
                continue
            logged = {(c.table, c.id): c for c in self._logged_changes(seq, b)[a:b]}
            req.result = CommitResult(seq, [logged.get((w.table, w.id)) for w in req.writes])

    def _logged_changes(self, seq: int, limit: int) -> list[Change]:
        """The first ``limit`` changes of commit ``seq``: from the lines this view follows
        now (parsed once for the cache too), else from the log."""
        with self._mu:
            applied, _ = self._refresh()
        for commit in applied:
            if commit["seq"] == seq:
                out: list = []
                take_changes(commit, None, limit, out)
                return [c._replace(doc=copy_json(c.doc)) for c in out]  # (the cache's docs)
        return self.changes(seq - 1, None, limit)

    def _stage_request(self, st: Staged, req: Request, current: dict) -> Optional[tuple]:
        """Verify one request against ``current`` (no earlier member of the batch writes its
        records) and stage it; on a failed check, set its error and stage nothing."""
        a, parts = len(st.changes), len(st.parts)
        req.span = (parts, parts)
        try:
            if req.checks:
                verify(current, req.checks)
            verify_writes(req.writes, current)
            for w in req.writes:
                _stage_write(st, w)
            if any(key in st.final for key in req.keys):
                self._check_unique(st.final, st.live)
        except (ConflictError, NotFoundError, CorruptRecordError) as exc:
            for key in req.keys:
                st.live[key] = current[key]
                st.final.pop(key, None)
            del st.changes[a:], st.parts[parts:]
            req.error = exc
            return None
        req.span = (parts, len(st.parts))
        return a, len(st.changes)

    def _read_current(self, writes: list[Write], checks: dict) -> tuple[dict, dict]:
        """The current state of every record involved, from the files (hand edits included):
        ({key: doc | None | CorruptRecordError}, {key: record file size | None})."""
        current: dict = {}
        sizes: dict = {}
        for table in {w.table for w in writes}:
            self._check_table_dir(table)
        for w in writes:
            key = (w.table, w.id)
            if w.kind == "insert" and key not in current and key not in checks:
                path = f"{self._dir}/{w.table}/{w.id}.json"
                if not os.access(path, os.F_OK, follow_symlinks=False):
                    current[key] = sizes[key] = None  # the common case, for a stat less
                    t = self._tables.get(w.table)
                    if t is not None:
                        t.drop(w.id)
        for key in (*checks, *((w.table, w.id) for w in writes)):
            if key in current:
                continue
            table, id = key
            hit, value, skey = self._probe(table, id, self._tables.get(table))
            if not hit:
                self._table(table).read(id, value, skey)
            current[key] = value
            sizes[key] = None if skey is None else skey[1]
        return current, sizes

    def _apply_files(self, st: Staged) -> dict:
        """The apply phase: the record files, then the done line; returns their stat keys.
        It runs after the commit point, so a failure must not leave the commit half there:
        an ``OSError`` (a full disk, say) takes the commit back -- or, if even that fails,
        finishes it; anything else (``KeyboardInterrupt``) finishes it before it propagates."""
        keys = {}
        try:
            for key, data in st.final.items():
                if data is None:
                    self._delete_record(key[0], key[1])
                else:
                    keys[key] = self._write_record(
                        key[0], key[1], data + b"\n", st.sizes[key], key in st.cached
                    )
            write_all(st.fd, b'{"done":%d}\n' % st.seq)
        except OSError as exc:
            self._undo(st, exc)
            return {}
        except BaseException:
            try:
                with self._mu:
                    self._recover_locked()
            except BaseException:
                pass  # left for the next lock holder
            raise
        return keys

    def _undo(self, st: Staged, exc: OSError) -> None:
        """Take back a commit whose record files could not all be written: restore them, then
        cut its line from the log and raise. If that fails too, finish the commit instead (and
        return); if even that fails, its outcome rests with the next recovery: say so."""
        try:
            with self._mu:
                for key in st.final:
                    before = st.before[key]
                    if before is None:
                        self._delete_record(key[0], key[1])
                    else:
                        self._write_record(key[0], key[1], encode(before) + b"\n", None, False)
                os.ftruncate(st.fd, st.at[1])
                if self._durable:
                    datasync(st.fd)
                self._pend_memo = None
        except OSError:
            try:
                with self._mu:
                    self._recover_locked()
                return  # finished: the commit is whole after all
            except OSError:
                raise CommitUnknownError(
                    f"commit {st.seq} to the JSON store at {self._dir} is in its commit log, "
                    f"but its record files could not be written ({exc.strerror or exc}) nor "
                    "restored: the next commit or open finishes it once that is mended"
                ) from exc
        raise storage_error("commit to", self._dir, exc, _NOTHING + " (taken back)") from exc

    def _publish(self, st: Staged, keys: dict, post: int) -> None:
        """Into the cache as ``_apply`` would (copies: the Change docs are the caller's)."""
        pre = st.at
        with self._mu:
            view = (self._seg_first, self._off)
            if view != pre and view != (pre[0], post):  # cannot happen under the lock
                self._refresh()
                return
            for key, data in st.final.items():
                t = self._tables.get(key[0])
                if t is None:
                    continue
                if data is None:
                    t.drop(key[1])
                elif t.holds(key[1]):
                    t.put(key[1], copy_json(st.live[key]), keys.get(key))
            if view == pre:
                self._off = post
                self._last_seq = st.seq
