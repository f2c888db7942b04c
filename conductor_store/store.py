"""The Store and its transactions: validation, bookkeeping and retries, once for every backend."""

from __future__ import annotations

import contextlib
import threading
import time
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator, Literal, TypeVar

from . import records as _records
from .backends import lookup
from .backends.base import Backend, Change, IndexSpec, Write
from .errors import ConflictError, NotFoundError, StoreError, ValidationError
from .ids import new_id
from .query import Query, clamp_count, compile_query, field_path
from .retention import check_not_pruned
from .retry import Attempts, RetryPolicy
from .urls import default_url, redact_url, split_scheme
from .validation import check_doc, check_id, check_project, check_table, copy_json

T = TypeVar("T")

#: ``atomic()``'s default: keep trying for up to 10 s (no count), pausing about 1 ms at first,
#: doubling to at most 50 ms, fully jittered, so that contenders spread out as they collide.


def open(url: str | None = None, *, project: str = "default", **options: Any) -> "Store":
    """Open a store. ``url=None`` means ``$CONDUCTOR_STORE_URL`` (then ``$SURREAL_URL``), else
    JSON files in the platform's user data directory. A plain path opens JSON files there."""
    if url is None:
        url = default_url()
    if not isinstance(url, str) or not url:
        shown = type(url).__name__ if not isinstance(url, str) else "an empty string"
        raise ValidationError(f"url must be a non-empty string, not {shown}")
    check_project(project)
    scheme, _ = split_scheme(url)
    factory = lookup(scheme, redact_url(url))
    backend = factory(url, project=project, **options)
    return _records.remember_open(Store(backend, project=project), url, options)


class _Reader:
    """The reads shared by :class:`Store` and :class:`Transaction`: both validate here and
    answer through their own :meth:`_find` / :meth:`_count`."""

    def _find(self, table: str, query: Query) -> list[dict]:
        raise NotImplementedError

    def _count(self, table: str, query: Query) -> int:
        raise NotImplementedError

    def find(
        self,
        table: str,
        where: dict | str | None = None,
        *,
        params: dict | None = None,
        order_by: str | list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Records of ``table`` matching ``where``, ordered by ``order_by`` (then id)."""
        return self._find(check_table(table), compile_query(where, params, order_by, limit, offset))

    def count(
        self, table: str, where: dict | str | None = None, *, params: dict | None = None
    ) -> int:
        """How many records of ``table`` match ``where``."""
        return self._count(check_table(table), compile_query(where, params))

    # -- SQL (conductor_store/sql, docs/query.md) ------------------------------------------
    def query(self, sql: str, params: dict | None = None) -> list[dict]:
        """Rows of a read-only ``SELECT`` over one table; a transaction sees its own writes."""
        from .sql import select

        return select(self, sql, params)

    def surrealql(self, text: str, vars: dict | None = None) -> list:
        """Raw SurrealQL on a SurrealDB backend, one result per statement (reads and writes:
        your responsibility; not part of a transaction). ``QueryError`` on other backends."""
        from .sql import surrealql

        return surrealql(self, text, vars)


class Store(_Reader):
    """A project's records on one backend. Safe to share between threads."""

    def __init__(self, backend: Backend, *, project: str) -> None:
        self._backend = backend
        self.project = project
        self._closed = False
        self._close_lock = threading.Lock()
        self._retry_turn = threading.RLock()  # retries of atomic() in this process take turns

    # -- context management -------------------------------------------------------------
    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        _records.close_shared(self)
        self._backend.close()

    @property
    def backend(self) -> Backend:
        if self._closed:
            raise StoreError("this store is closed")
        return self._backend

    def __repr__(self) -> str:
        return f"<Store {self._backend.name} {self._backend.url!r} project={self.project!r}>"

    # -- single-record operations (each one commit) --------------------------------------
    def insert(self, table: str, doc: dict, *, id: str | None = None) -> dict:
        """Create a record; a sortable unique id is generated when none is given (nor in doc)."""
        id, body = _prepare_insert(table, doc, id)
        return self._commit_one(Write("insert", table, id, body), None)

    def put(self, table: str, id: str, doc: dict) -> dict:
        """Create or replace a record. A ``_version`` in ``doc`` must match the current one."""
        check_table(table)
        body, expected = check_doc(doc, check_id(id))
        return self._commit_one(Write("put", table, id, body), expected)

    def update(self, table: str, id: str, changes: dict) -> dict:
        """Shallow-merge ``changes`` into the record; ``NotFoundError`` if it does not exist."""
        check_table(table)
        body, expected = check_doc(changes, check_id(id))
        return self._commit_one(Write("merge", table, id, body), expected)

    def delete(self, table: str, id: str) -> bool:
        """Delete a record; True if it existed."""
        check_table(table)
        check_id(id)
        return self._commit_one(Write("delete", table, id), None) is not None

    def _commit_one(self, write: Write, expected: int | None) -> Any:
        """Commit one write; returns its Change's document (None if nothing changed)."""
        checks: dict[tuple, int | None] = {}
        if expected is not None:
            checks[(write.table, write.id)] = expected
        result = self.backend.commit([write], checks)
        self._committed(result.seq)
        change = result.changes[0]
        if change is None:
            return None
        # a copy: the backend may keep the Change's doc (e.g. in its change log)
        return copy_json(change.doc) if write.kind != "delete" else change

    def get(self, table: str, id: str) -> dict | None:
        return self.backend.get(check_table(table), check_id(id))

    def get_many(self, table: str, ids: Iterable[str]) -> list[dict]:
        """Records in the order asked, missing ones left out."""
        ids = [check_id(i) for i in _as_list(ids, "ids")]
        return self.backend.get_many(check_table(table), ids)

    def _find(self, table: str, query: Query) -> list[dict]:
        return self.backend.find(table, query)

    def _count(self, table: str, query: Query) -> int:
        return self.backend.count(table, query)

    def tables(self) -> list[str]:
        return self.backend.tables()

    def quarantine(self, table: str, id: str) -> str:
        """Move the record ``table:id`` -- typically one that no longer parses -- out of the
        table into the backend's quarantine (nothing is deleted); returns where it went."""
        return self.backend.quarantine(check_table(table), check_id(id))

    # -- transactions --------------------------------------------------------------------
    def transaction(self) -> "Transaction":
        """``with store.transaction() as tx:`` -- commits on normal exit, rolls back on error."""
        return Transaction(self)

    def atomic(
        self,
        fn: Callable[["Transaction"], T],
        *,
        retries: int | None = None,
        policy: RetryPolicy | None = None,
    ) -> T:
        """Run ``fn(tx)`` in a transaction and return what it returned, running it again on
        fresh data whenever the commit raises ``ConflictError``.

        By default it keeps trying for up to 10 s with capped, jittered back-off
        (:data:`~conductor_store.retry.ATOMIC_POLICY`); ``policy`` sets another
        :class:`RetryPolicy`, and ``retries=n`` allows at most ``n`` retries. When they run
        out, the ``ConflictError`` raised says how many attempts were made in how long."""
        attempts = Attempts(policy, retries)
        while True:
            with self._retry_turn if attempts.queued else contextlib.nullcontext():
                tx = self.transaction()
                try:
                    with tx:
                        return fn(tx)
                except ConflictError as error:
                    pause = attempts.pause_after(error, tx.conflict_is_final())
            time.sleep(pause)

    # -- change log and facts ------------------------------------------------------------
    def changes(
        self, since: int = 0, *, tables: Iterable[str] | None = None, limit: int | None = None
    ) -> list[Change]:
        """Changes of commits numbered above ``since``, in commit order, from any process.
        ``ChangesPrunedError`` (its ``oldest``: where to continue) when the log no longer
        holds all of them."""
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise ValidationError(f"since must be a non-negative integer, not {since!r}")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValidationError(f"limit must be a non-negative integer, not {limit!r}")
        limit = clamp_count(limit)
        if tables is not None:
            tables = [check_table(t) for t in _as_list(tables, "tables")]
        backend = self.backend
        check_not_pruned(backend, since)
        found = backend.changes(since, tables, limit)
        check_not_pruned(backend, since)  # a prune may have raced with the read
        return found

    # -- indexes -------------------------------------------------------------------------
    def ensure_index(
        self, table: str, fields: str | Iterable[str], *, unique: bool = False
    ) -> IndexSpec:
        """Declare an index on ``fields`` (a dotted field name or a list of them) of
        ``table``; idempotent, persisted by backends that keep indexes. Answers never depend
        on indexes, only their cost does -- except ``unique=True``, which makes a commit giving
        two records the same values raise ``ConflictError``; a backend that cannot enforce it
        raises ``StoreError``. Returns the :class:`IndexSpec`."""
        check_table(table)
        names = [fields] if isinstance(fields, str) else _as_list(fields, "fields")
        if not names:
            raise ValidationError("an index needs at least one field")
        paths = [".".join(field_path(f, "an index field", ValidationError)) for f in names]
        if len(set(paths)) != len(paths):
            raise ValidationError(f"an index names each field once, not {paths!r}")
        if not isinstance(unique, bool):
            raise ValidationError(f"unique must be True or False, not {unique!r}")
        spec = IndexSpec(table, tuple(paths), unique)
        self.backend.ensure_index(spec)
        return spec

    def indexes(self, table: str | None = None) -> list[IndexSpec]:
        """The indexes the backend keeps (of ``table`` only, when given), sorted."""
        if table is not None:
            check_table(table)
        return [spec for spec in self.backend.indexes() if table in (None, spec.table)]

    def info(self) -> dict[str, Any]:
        """Which backend, where (any password removed), which project."""
        backend = self.backend
        return {
            **backend.info(),
            "backend": backend.name,
            "url": redact_url(backend.url),
            "project": self.project,
        }

    # -- watching and change-log retention (conductor_store/watch.py, retention.py) ------
    _retention: Any = None  # a retention.Retention; None: the default (7 days)
    _on_commit: Any = None  # (this location's watch signal, the Pruner): made on first commit

    def watch(
        self,
        since: int | None = None,
        *,
        tables: Iterable[str] | None = None,
        timeout: float | None = None,
    ) -> Iterator[Change]:
        """Yield each committed change (from any process) in commit order, after seq
        ``since`` (None: from now), blocking until there is one; end after ``timeout``
        seconds without one (None: never). Resume with the last seq seen: nothing is lost or
        repeated. ``ChangesPrunedError`` if ``since`` was pruned."""
        from .watch import watch

        return watch(self, since, tables=tables, timeout=timeout)

    def subscribe(
        self,
        callback: Callable[[Change], Any],
        *,
        tables: Iterable[str] | None = None,
        since: int | None = None,
    ) -> Any:
        """Call ``callback(change)`` for each change on a background thread, in commit order;
        returns a :class:`~conductor_store.watch.Subscription` (``close()``, ``position``)."""
        from .watch import Subscription

        return Subscription(self, callback, tables=tables, since=since)

    @property
    def retention(self) -> Any:
        """This project's change-log retention (:class:`~conductor_store.retention.Retention`)."""
        from .retention import DEFAULT

        return self._retention or DEFAULT

    def set_retention(
        self, *, max_age: float | None = 7 * 86400, max_commits: int | None = None
    ) -> Any:
        """Keep changes at most ``max_age`` seconds old and/or the newest ``max_commits``
        commits (None: no limit of that kind). Applied on commits and by prune_changes()."""
        from .retention import Retention

        self._retention = Retention(max_age, max_commits)
        return self._retention

    def prune_changes(self) -> int:
        """Apply the retention policy now; returns the highest seq pruned (0: none)."""
        from .retention import prune

        return prune(self.backend, self.retention)

    def _committed(self, seq: int | None) -> None:
        """After each commit: wake this process's watchers, prune now and then."""
        if seq is None:
            return
        signal, pruner = self._on_commit or self._make_commit_hooks()
        signal.notify()
        pruner.committed(self._backend, self.retention)

    def _make_commit_hooks(self) -> tuple:
        """Looked up once per Store, not on every commit (a commit's hot path)."""
        from .retention import Pruner
        from .watch import signal_for

        with self._close_lock:
            if self._on_commit is None:
                self._on_commit = (signal_for(self._backend), Pruner())
            return self._on_commit

    # -- records (conductor_store.records): repositories and similarity search -------------
    @cached_property
    def workflow(self) -> "_records.WorkflowRepository":
        return _records.repository(self, "workflow")

    @cached_property
    def tasks(self) -> "_records.TaskRepository":
        return _records.repository(self, "tasks")

    @cached_property
    def milestones(self) -> "_records.MilestoneRepository":
        return _records.repository(self, "milestones")

    @cached_property
    def audit(self) -> "_records.AuditRepository":
        return _records.repository(self, "audit")

    @cached_property
    def errors(self) -> "_records.ErrorPatternRepository":
        """Error patterns, kept in the shared project of this location."""
        return _records.repository(self, "errors")

    @cached_property
    def checkpoints(self) -> "_records.CheckpointRepository":
        return _records.repository(self, "checkpoints")

    @cached_property
    def sessions(self) -> "_records.SessionRepository":
        return _records.repository(self, "sessions")

    @cached_property
    def budget(self) -> "_records.BudgetRepository":
        return _records.repository(self, "budget")

    @cached_property
    def events(self) -> "_records.EventRepository":
        return _records.repository(self, "events")

    @cached_property
    def git(self) -> "_records.GitCommitRepository":
        return _records.repository(self, "git")

    def nearest(
        self,
        table: str,
        field: str,
        vector: list[float],
        k: int = 10,
        where: dict | str | None = None,
        *,
        params: dict | None = None,
    ) -> list[tuple[dict, float]]:
        """The ``k`` records of ``table`` (matching ``where``) whose ``field`` is most
        cosine-similar to ``vector``, as ``(record, score)`` pairs, best first."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValidationError(f"k must be a positive integer, not {k!r}")
        vector = _records.check_vector(vector, "vector")
        query = compile_query(where, params) if where is not None else None
        return self.backend.nearest(check_table(table), field, vector, k, query)


def _prepare_insert(table: str, doc: Any, id: str | None) -> tuple[str, dict]:
    """Validate an insert; the id is the argument, else the document's, else a new one."""
    check_table(table)
    if id is None and isinstance(doc, dict) and doc.get("id") is not None:
        id = doc["id"]
    id = new_id() if id is None else check_id(id)
    body, expected = check_doc(doc, id)
    if expected is not None:
        raise ValidationError("insert creates version 1: remove '_version' from the document")
    return id, body


def _as_list(values: Any, what: str) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValidationError(f"{what} must be a list of strings, not {values!r}")
    return list(values)


_ABSENT = object()
_Kind = Literal["insert", "put", "merge", "delete"]


class Transaction(_Reader):
    """Buffered writes over optimistic reads; see :meth:`Store.transaction`.

    Every record read with :meth:`get` (and every record written, except by ``insert``) is
    remembered with the version seen; commit fails with ``ConflictError`` if any of them moved.
    ``insert`` checks at commit that the id is still free.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._backend = store.backend
        self._reads: dict[tuple, int | None] = {}  # key -> version read (None: absent)
        self._writes: dict[tuple, Write] = {}  # key -> final write (insert/put/delete)
        self._state = "open"

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def _check_open(self) -> None:
        if self._state != "open":
            raise StoreError(f"this transaction is already {self._state}")

    def commit(self) -> int | None:
        """Apply every buffered write atomically; returns the commit's sequence number."""
        self._check_open()
        self._state = "failed"
        seq = None
        if self._writes or self._reads:
            seq = self._backend.commit(list(self._writes.values()), self._reads).seq
            self._store._committed(seq)
        self._state = "committed"
        return seq

    def conflict_is_final(self) -> bool:
        """After this transaction's commit raised ``ConflictError``: whether running the same
        function again must conflict again -- every record it read is as it was, yet an id it
        inserted without reading is taken (the same reads lead to the same insert). Reads the
        records concerned; ``atomic()`` then gives up at once instead of retrying in vain."""
        inserts = [key for key, write in self._writes.items() if write.kind == "insert"]
        if self._state != "failed" or not inserts:
            return False
        for (table, id), version in self._reads.items():
            doc = self._backend.get(table, id)
            if (None if doc is None else doc["_version"]) != version:
                return False
        return any(self._backend.get(table, id) is not None for table, id in inserts)

    def rollback(self) -> None:
        if self._state == "open":
            self._state = "rolled back"
        self._writes.clear()

    # -- reads ---------------------------------------------------------------------------
    def _current(self, table: str, id: str) -> dict | None:
        """The record as this transaction sees it (its own writes first); remembers reads."""
        write = self._writes.get((table, id))
        if write is not None:
            return None if write.kind == "delete" else self._as_doc(write)
        doc = self._backend.get(table, id)
        self._reads.setdefault((table, id), None if doc is None else doc["_version"])
        return doc

    @staticmethod
    def _as_doc(write: Write) -> dict:
        """A pending write as a record: its ``_version`` is None until the commit numbers it."""
        return {**copy_json(write.doc), "id": write.id, "_version": None}

    def get(self, table: str, id: str) -> dict | None:
        self._check_open()
        return self._current(check_table(table), check_id(id))

    def get_many(self, table: str, ids: Iterable[str]) -> list[dict]:
        self._check_open()
        check_table(table)
        ids = [check_id(i) for i in _as_list(ids, "ids")]
        docs = (self._current(table, i) for i in ids)
        return [d for d in docs if d is not None]

    def _find(self, table: str, query: Query) -> list[dict]:
        self._check_open()
        mine = {k[1]: w for k, w in self._writes.items() if k[0] == table}
        if not mine:
            return self._backend.find(table, query)
        docs = [d for d in self._backend.find(table, query.unsliced()) if d["id"] not in mine]
        docs += [self._as_doc(w) for w in mine.values() if w.kind != "delete"]
        return query.apply(docs)

    def _count(self, table: str, query: Query) -> int:
        self._check_open()
        if not any(k[0] == table for k in self._writes):
            return self._backend.count(table, query)
        return len(self._find(table, query))

    # -- writes --------------------------------------------------------------------------
    def insert(self, table: str, doc: dict, *, id: str | None = None) -> dict:
        """Create a record at commit; ``ConflictError`` (now or at commit) if the id exists."""
        self._check_open()
        id, body = _prepare_insert(table, doc, id)
        key = (table, id)
        if key in self._writes and self._writes[key].kind != "delete":
            raise ConflictError(f"{table}:{id} already exists (inserted in this transaction)")
        if self._reads.get(key, _ABSENT) not in (None, _ABSENT) and key not in self._writes:
            raise ConflictError(f"{table}:{id} already exists")
        # after a read (or a delete) of the key, its check already says "absent"
        kind: _Kind = "put" if key in self._reads else "insert"
        self._writes[key] = Write(kind, table, id, body)
        return self._as_doc(self._writes[key])

    def put(self, table: str, id: str, doc: dict) -> dict:
        """Create or replace a record at commit (``_version`` in ``doc``: compare-and-set)."""
        self._check_open()
        check_table(table)
        body, expected = check_doc(doc, check_id(id))
        current = self._current(table, id)
        self._expect(table, id, current, expected)
        return self._write(table, id, body)

    def update(self, table: str, id: str, changes: dict) -> dict:
        """Shallow-merge ``changes`` at commit; ``NotFoundError`` now if the record is absent."""
        self._check_open()
        check_table(table)
        body, expected = check_doc(changes, check_id(id))
        current = self._current(table, id)
        if current is None:
            raise NotFoundError(f"{table}:{id} does not exist")
        self._expect(table, id, current, expected)
        current.pop("id")
        current.pop("_version")
        return self._write(table, id, {**current, **body})

    def delete(self, table: str, id: str) -> bool:
        """Delete a record at commit; True if it exists as this transaction sees it."""
        self._check_open()
        check_table(table)
        check_id(id)
        existed = self._current(table, id) is not None
        key = (table, id)
        write = self._writes.get(key)
        if write is not None and write.kind == "insert":
            # A blind insert, now undone: the insert promised that the id was free, so the
            # commit checks that it still is (else ConflictError); the delete keeps the record
            # out of this transaction's reads and writes nothing when the check holds.
            self._reads[key] = None
            self._writes[key] = Write("delete", table, id)
        elif existed:
            self._writes[key] = Write("delete", table, id)
        return existed

    def _write(self, table: str, id: str, body: dict) -> dict:
        key = (table, id)
        previous = self._writes.get(key)
        kind: _Kind = "insert" if previous is not None and previous.kind == "insert" else "put"
        self._writes[key] = Write(kind, table, id, body)
        return self._as_doc(self._writes[key])

    @staticmethod
    def _expect(table: str, id: str, current: dict | None, expected: int | None) -> None:
        if expected is not None and (current is None or current["_version"] != expected):
            if current is None:
                found = "absent"
            elif current["_version"] is None:
                found = "written in this transaction (no version until commit)"
            else:
                found = f"at version {current['_version']}"
            raise ConflictError(f"{table}:{id} is {found}, not at version {expected}")

    # -- records (conductor_store.records): tx.tasks etc. join this transaction ----------
    def _repo(self, name: str) -> Any:
        return _records.repository(self._store, name, self)

    workflow = property(lambda self: self._repo("workflow"))
    tasks = property(lambda self: self._repo("tasks"))
    milestones = property(lambda self: self._repo("milestones"))
    audit = property(lambda self: self._repo("audit"))
    errors = property(lambda self: self._repo("errors"))
    checkpoints = property(lambda self: self._repo("checkpoints"))
    sessions = property(lambda self: self._repo("sessions"))
    budget = property(lambda self: self._repo("budget"))
    events = property(lambda self: self._repo("events"))
    git = property(lambda self: self._repo("git"))
