"""The reader cache and its seqlock: lock-free reads that see each commit wholly or not at all.

Readers never take the lock. Each process keeps a view of the log (:mod:`.log`) and a cache of
parsed records (per table: id -> document and the record file's ``(inode, size, mtime_ns)``).
Every read first ``fstat``s the current segment; if it grew, the new lines are applied to the
cache (they carry full documents). For the records a *pending* commit touches (its line is
there, its done line not yet: its files may be half written) a reader answers from the state
before it (the cache; or "absent" when the pending op is an insert) and, when that state is not
cached, waits for the writer (briefly polling the log, then taking the lock, which also recovers
a dead writer's commit). Any read that touched a record file checks the log again afterwards (a
seqlock): commits finished meanwhile override what was read, and a read a new pending commit may
have torn is redone.

``get`` costs one ``fstat`` of the log plus one ``stat`` of the record file: an unchanged file
is served from the cache, a changed one is re-read -- so hand edits are seen by ``get`` at once.
``find``/``count`` (``scan``) list and parse a table once, then trust the commit log for what
changed: they see hand edits only after a ``get`` of that record or a reopen. Loading a table
``lstat``s every record file and parses only those whose stat key differs from what the cache
already holds -- entries a per-table snapshot put there (:mod:`.snapshot`), or those ``get``
read -- so a reopened 100k-record table is not parsed file by file again.
"""

from __future__ import annotations

import gc
import os
import time
from contextlib import contextmanager
from stat import S_ISREG
from typing import Any, Callable, Iterable, Iterator, Optional

from ...errors import CorruptRecordError, StoreError
from ...retry import RetryPolicy
from ...validation import TABLE_RE, copy_json
from .. import jsonfiles as _pkg  # its tunables (tests and users set them there)
from .files import corrupt, stat_key
from .log import Pending

#: how a reader waits for a pending commit's writer before checking whether it died
_WAIT = RetryPolicy(attempts=40, base=0.00005, cap=0.002, jitter=0.0)
#: waits after which a reader that still sees the same pending commit tries the lock
_WAITS_BEFORE_LOCK = 4
_MISSING = object()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off: building 100k documents with it
    on costs it up to 3.5x the parse itself (it walks the growing heap again and again).
    Turning it back on would make the next allocation walk every object made meanwhile
    (~0.1 s), so those are moved straight to the oldest generation (``freeze`` +
    ``unfreeze``) -- unless the program froze objects itself."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
    finally:
        gc.enable()


class Table:
    """This process's cache of one table. ``keys`` has an entry for every id in ``docs`` or
    ``bad``: the record file's (inode, size, mtime_ns) when the entry was read from it or written
    by this process, or None when it came from the log (a ``get`` then reads the file once more,
    so that a hand edit made since is seen). ``complete``: every record of the table is here
    (absence is known too). ``since``: a time (``time.time_ns``) before every stat key held
    was taken; ``parsed``: how many record files loading the table parsed (:mod:`.snapshot`
    uses both)."""

    __slots__ = ("docs", "keys", "bad", "complete", "indexes", "since", "parsed")

    def __init__(self, complete: bool = False, since: Optional[int] = None) -> None:
        self.docs: dict = {}
        self.keys: dict = {}
        self.bad: dict = {}
        self.complete = complete
        self.indexes: list = []  # Index objects, kept only on complete tables
        self.since = time.time_ns() if since is None else since
        self.parsed = 0

    def put(self, id: str, value: Any, key: Optional[tuple]) -> None:
        if isinstance(value, CorruptRecordError):
            self.docs.pop(id, None)
            self.bad[id] = value
            for index in self.indexes:
                index.drop(id)
        else:
            self.bad.pop(id, None)
            self.docs[id] = value
            for index in self.indexes:
                index.put(id, value)
        self.keys[id] = key

    def drop(self, id: str) -> None:
        self.docs.pop(id, None)
        self.bad.pop(id, None)
        self.keys.pop(id, None)
        for index in self.indexes:
            index.drop(id)

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

    def holds(self, id: str) -> bool:
        """Is this record worth keeping up to date (cached, or the table complete)?"""
        return self.complete or id in self.keys

    def snapshot(self) -> tuple[list, Optional[CorruptRecordError]]:
        return list(self.docs.values()), (self.bad[min(self.bad)] if self.bad else None)


class Retry:
    """A lock-free read ran into a pending commit it cannot see around: wait and retry."""

    __slots__ = ("seq",)

    def __init__(self, seq: Optional[int]) -> None:
        self.seq = seq


def changed(applied: list) -> dict:
    """(table, id) -> last doc (None: deleted) over the given commits."""
    out = {}
    for commit in applied:
        for ch in commit["changes"]:
            out[(ch["table"], ch["id"])] = ch["doc"]
    return out


class ReaderCache:
    """The read side of the backend (mixed in): the cache, following the log, and the reads."""

    _dir: str
    _fd: int
    _off: int
    _pid: int
    _mu: Any
    _last_seq: int
    _tables: dict
    _pend_memo: Optional[tuple]
    _path: Callable[..., str]
    _read_file: Callable[..., tuple]
    _record_names: Callable[..., list]
    _check_table_dir: Callable[[str], None]
    _refresh: Callable[[], tuple]
    _check_fork: Callable[[], None]
    _lock: Callable[[], None]
    _unlock: Callable[[], None]
    _recover_locked: Callable[[], bool]
    _recover_if_free: Callable[[], bool]
    _attach_indexes: Callable[[str, Table], None]
    _prime: Callable[[str], None]
    _save_snapshot: Callable[[str], None]

    def _apply(self, commit: dict) -> None:
        """A finished commit found in the log, into the cache (called by ``_refresh``)."""
        tables = self._tables
        for ch in commit["changes"]:
            t = tables.get(ch["table"])
            if t is None:
                continue
            if ch["op"] == "delete":
                t.drop(ch["id"])
            elif t.holds(ch["id"]):
                t.put(ch["id"], ch["doc"], None)
        self._last_seq = commit["seq"]

    def _table(self, table: str) -> Table:
        t = self._tables.get(table)
        if t is None:
            t = self._tables[table] = Table()
        return t

    def _probe(self, table: str, id: str, t: Optional[Table]) -> tuple[bool, Any, Optional[tuple]]:
        """Look a record up: (served from the cache, value, stat key or None if no file).
        A cache answer is the view's state; a file answer must be confirmed by the caller."""
        path = self._path(table, id)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            if t is not None and t.complete and id not in t.keys:
                return True, None, None
            return False, None, None
        key = stat_key(st)
        if t is not None and t.keys.get(id) == key:
            return True, t.value(id), key
        if not S_ISREG(st.st_mode):  # a directory or a symbolic link (say) in a record's place
            return False, corrupt(table, id, path, "is not a regular file"), key
        value, key = self._read_file(table, id)
        return False, value, key

    # -- the retry loop --------------------------------------------------------------------
    def _read(self, attempt: Any, *args: Any) -> Any:
        """Run ``attempt(*args)`` under ``_mu`` until it does not answer ``Retry``; after a few
        tries (a writer keeps getting in the way) run it under the writers' lock."""
        if self._pid != os.getpid():
            self._check_fork()
        for _ in range(4):
            with self._mu:
                result = attempt(*args)
            if type(result) is not Retry:
                self._check_stale()
                return result
            self._wait_for(result.seq)
        self._lock()
        try:
            with self._mu:
                self._recover_locked()
                result = attempt(*args)
        finally:
            self._unlock()
        if type(result) is Retry:
            raise StoreError(f"the log of {self._dir} keeps changing under its lock")
        return result

    def _check_stale(self) -> None:
        """A commit has been pending for a while: if its writer is dead (the lock is free),
        finish it, so that it does not stay invisible to readers until the next commit."""
        memo = self._pend_memo
        if memo is not None and time.monotonic() - memo[1].seen > _pkg.STALE_PENDING_SECONDS:
            memo[1].seen = time.monotonic()  # check again only after another while
            self._recover_if_free()

    def _wait_for(self, seq: Optional[int]) -> None:
        """Wait until pending commit ``seq`` is done (polling the log), or recover it if its
        writer is dead (the lock is free)."""
        if seq is None:
            return
        for i, delay in enumerate(_WAIT.delays()):
            time.sleep(delay)
            with self._mu:
                _, pend = self._refresh()
            if pend is None or pend.seq != seq:
                return
            if i + 1 >= _WAITS_BEFORE_LOCK and self._recover_if_free():
                return

    def _pending_value(self, pend: Pending, t: Optional[Table], table: str, id: str) -> Any:
        """The value, before pending commit ``pend``, of a record it touches -- or a Retry."""
        if pend.keys[(table, id)] == "insert":
            return None
        if t is not None and id in t.keys:
            return t.value(id)
        return Retry(pend.seq)

    # -- get -------------------------------------------------------------------------------
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
            found = changed(applied).get((table, id), _MISSING)
            if found is not _MISSING:
                return found
        if pend is not None and (table, id) in pend.keys:
            return self._pending_value(pend, t, table, id)
        self._table(table).read(id, value, key)
        return value

    def _get_cached(self, table: str, id: str) -> Optional[dict]:
        """The common case, inlined: log unchanged, record file unchanged (None: not so)."""
        with self._mu:
            t = self._tables.get(table)
            if t is None or os.fstat(self._fd).st_size != self._off:
                return None
            key = t.keys.get(id)
            if key is None:
                return None
            try:
                st = os.lstat(f"{self._dir}/{table}/{id}.json")
            except OSError:
                return None
            if (st.st_ino, st.st_size, st.st_mtime_ns) != key:
                return None
            value = t.docs.get(id)
            return None if value is None else copy_json(value)

    def get(self, table: str, id: str) -> dict | None:
        if self._pid == os.getpid():
            doc = self._get_cached(table, id)
            if doc is not None:
                return doc
        self._check_table_dir(table)
        value = self._read(self._get_once, table, id)
        if value is None:
            return None
        if isinstance(value, CorruptRecordError):
            raise value
        return copy_json(value)

    # -- get_many --------------------------------------------------------------------------
    def _read_keys_once(self, keys: list) -> Any:
        """{(table, id): doc | None | CorruptRecordError} as of one moment, or a Retry."""
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
                if type(value) is Retry:
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
        return self._confirm_keys(out, from_disk)

    def _confirm_keys(self, out: dict, from_disk: dict) -> Any:
        """The seqlock's second look for what ``_read_keys_once`` read from files."""
        applied, pend = self._refresh()
        if applied:  # then everything is answered as of the newer position
            for key, doc in changed(applied).items():
                if key in out or key in from_disk:
                    out[key] = doc
                    from_disk.pop(key, None)
        for key, (value, skey) in from_disk.items():
            table, id = key
            if pend is not None and key in pend.keys:
                value = self._pending_value(pend, self._tables.get(table), table, id)
                if type(value) is Retry:
                    return value
            else:
                self._table(table).read(id, value, skey)
            out[key] = value
        return out

    def get_many(self, table: str, ids: list[str]) -> list[dict]:
        self._check_table_dir(table)
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

    # -- scan ------------------------------------------------------------------------------
    def _bad_changed(self, table: str, t: Table) -> bool:
        """Has a file the cache holds as corrupt changed since (mended by hand)?"""
        for id in t.bad:
            try:
                key: Optional[tuple] = stat_key(os.lstat(self._path(table, id)))
            except OSError:
                key = None
            if key != t.keys.get(id):
                return True
        return False

    def _scan_once(self, table: str) -> Any:
        t = self._loaded(table)
        return t if type(t) is Retry else t.snapshot()

    def _loaded(self, table: str) -> Any:
        """The table's complete, current cache (with its indexes), or a Retry (with ``_mu``)."""
        _, pend = self._refresh()
        t = self._tables.get(table)
        if t is not None and t.complete and not (t.bad and self._bad_changed(table, t)):
            return t
        new = self._load_table(table, pend, t)  # list and parse its files...
        if type(new) is Retry:
            return new
        retry = self._confirm_table(table, new, pend)  # ...then confirm against the log
        if retry is not None:
            return retry
        self._tables[table] = new
        self._attach_indexes(table, new)
        return new

    def _load_table(self, table: str, pend: Optional[Pending], t: Optional[Table]) -> Any:
        """A complete Table read from the files, as of before ``pend`` (or a Retry)."""
        pk = {}
        if pend is not None:
            pk = {id: op for (tb, id), op in pend.keys.items() if tb == table}
        new = Table(complete=True, since=None if t is None else t.since)
        with gc_paused():
            self._read_files(table, new, pk, t)
        for id in pk:  # records the pending commit may be rewriting: their state before it
            value = self._pending_value(pend, t, table, id)  # type: ignore[arg-type]
            if type(value) is Retry:
                return value
            if value is not None:
                new.put(id, value, t.keys[id])  # type: ignore[union-attr]
        return new

    def _read_files(self, table: str, new: Table, skip: dict, t: Optional[Table]) -> None:
        """Every record file of the table but those in ``skip``, into ``new``. A file whose
        stat key is the one ``t`` holds is not read again: ``t`` has its content."""
        held, docs = ({}, {}) if t is None else (t.keys, t.docs)
        base, lstat = f"{self._dir}/{table}/", os.lstat
        for id in self._record_names(table):
            if id in skip:
                continue
            known = held.get(id)
            if known is not None and id in docs:
                try:
                    st = lstat(f"{base}{id}.json")
                except OSError:
                    st = None  # (reading it says what is there)
                if st is not None and (st.st_ino, st.st_size, st.st_mtime_ns) == known:
                    new.docs[id] = docs[id]  # (``new`` has no indexes yet: ``put``'s work)
                    new.keys[id] = known
                    continue
            value, key = self._read_file(table, id)
            if key is not None:
                new.put(id, value, key)
                new.parsed += 1

    def _confirm_table(self, table: str, new: Table, pend: Optional[Pending]) -> Optional[Retry]:
        """Bring a freshly loaded table up to the log (the seqlock's second look)."""
        applied, pend2 = self._refresh()
        done = set()
        for (tb, id), doc in changed(applied).items():
            if tb == table:
                done.add(id)
                if doc is None:
                    new.drop(id)
                else:
                    new.put(id, doc, None)
        if pend2 is None or pend2.commit is None or (pend is not None and pend2.seq == pend.seq):
            return None
        t = self._tables.get(table)  # a new pending commit: its records as of before it
        for (tb, id), _op in pend2.keys.items():
            if tb != table or id in done:
                continue
            value = self._pending_value(pend2, t, table, id)
            if type(value) is Retry:
                return value
            if value is None:
                new.drop(id)
            else:
                new.put(id, value, t.keys[id])  # type: ignore[union-attr]
        return None

    def _read_table(self, attempt: Callable[..., Any], table: str, *args: Any) -> Any:
        """``_read`` of an attempt that needs the whole table: the cache is primed from the
        table's snapshot before (if it is not loaded yet), and the snapshot is rewritten
        after when loading it had to parse many files (:mod:`.snapshot`)."""
        self._check_table_dir(table)
        self._prime(table)
        result = self._read(attempt, table, *args)
        self._save_snapshot(table)
        return result

    def scan(self, table: str) -> Iterable[dict]:
        docs, bad = self._read_table(self._scan_once, table)
        if bad is not None:
            raise bad
        return docs

    # -- tables ----------------------------------------------------------------------------
    def _tables_once(self) -> Any:
        _, pend = self._refresh()
        if pend is not None and pend.commit is not None:
            return Retry(pend.seq)
        try:
            with os.scandir(self._dir) as it:
                entries = [
                    e.name
                    for e in it
                    if TABLE_RE.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
                ]
        except FileNotFoundError:
            entries = []
        names = []
        for name in entries:
            t = self._tables.get(name)
            if t is not None and t.complete:
                if t.keys:
                    names.append(name)
            elif self._record_names(name):
                names.append(name)
        applied, pend = self._refresh()
        if applied or (pend is not None and pend.commit is not None):
            return Retry(pend.seq if pend is not None else None)
        return sorted(names)

    def tables(self) -> list[str]:
        return self._read(self._tables_once)
