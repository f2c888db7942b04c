"""The SurrealDB backend: one project = one database; records, a commit log and a sequence.

Layout inside the database (internal names contain capitals, which table names cannot):

* ``<table>:<id>``   -- the records: their fields plus ``_version``, bumped by the server on
  every write through ``DEFINE FIELD _version ... VALUE IF $before THEN $before + 1 ELSE 1 END``.
* ``_CS_meta:seq``   -- ``{n}``: the last commit number. Every commit that changes something
  increments it inside its transaction, so commit numbers are 1, 2, 3 ... in commit order, and
  any two overlapping commits conflict on it (the engine then retries or fails one of them):
  commits are serialisable, which the checks (compare-and-set) rely on.
* ``_CS_log:<seq>``  -- ``{w, tb}``: the commit's per-write results (document after the write, the
  record id for a delete, NONE for a no-op) and the tables it touched. :meth:`changes` reads it.
* ``_CS_txn:<uuid>`` -- remote commits only: ``{s, at}``, written by the commit itself, so that a
  commit whose reply was lost with the connection can be found instead of being sent twice.

Why not SurrealDB's change feeds: measured on the engine in the SDK wheel (surrealdb-core
2.3.10), a commit touching two tables gets *two* versionstamps (one per table, 65536 apart),
so no single number identifies a commit, the write order across tables is lost, and the
versionstamp cannot be read inside the transaction (``SHOW CHANGES`` after ``COMMIT`` is racy
with other writers). The ``_CS_log`` record costs one write per commit, not per record.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from typing import Any, Callable, Iterable, Literal

from ...errors import BackendUnavailableError, ConflictError, NotFoundError, StoreError
from ...query import Query
from ...retry import RetryPolicy
from ...validation import TABLE_RE, copy_json
from ..base import Backend, Change, CommitResult, Write
from . import surql
from .codec import Rid

log = logging.getLogger("conductor_store.surreal")

META = "_CS_meta"
LOG = "_CS_log"
TXN = "_CS_txn"
_INTERNAL_PREFIX = "_CS_"

#: a read the engine aborted on a conflict with a writer is simply read again
READ_RETRY = RetryPolicy(attempts=7, base=0.001, cap=0.01)
#: a commit the engine aborted on a conflict wrote nothing: back off and send it again
COMMIT_RETRY = RetryPolicy(attempts=29, base=0.001, cap=0.05)
#: a remote commit that did not land before its connection failed is sent again this often
RESENDS = 3

_FAILED_TXN = "The query was not executed due to a failed transaction"
_THROWN = re.compile(r"An error occurred: cs:(check|missing):(\d+)")
_EXISTS = re.compile(r"Database record `(.*)` already exists")


class EngineConflict(Exception):
    """The engine aborted a transaction on a read/write conflict: nothing was written."""


class OutcomeUnknown(Exception):
    """The connection failed after a commit was sent: it may or may not have landed."""


class Transport:
    """How a backend reaches its database: run one multi-statement query, get per-statement
    results ``[{"status": "OK"|"ERR", "result": ...}, ...]``."""

    remote = False

    def run(self, sql: str, vars: dict, *, idempotent: bool = True) -> list:
        raise NotImplementedError

    def info(self) -> dict:
        return {}

    def close(self) -> None:
        pass


def _define_table(table: str) -> str:
    # table names are validated identifiers ([a-z_][a-z0-9_]*): safe to emit, quoted anyway
    return (
        f"DEFINE TABLE IF NOT EXISTS `{table}` SCHEMALESS; "
        f"DEFINE FIELD IF NOT EXISTS _version ON `{table}` "
        "VALUE IF $before THEN $before + 1 ELSE 1 END;"
    )


def _plain(doc: dict) -> dict:
    """A record as the library shows it: ``id`` as the plain string id."""
    rid = doc.get("id")
    if rid.__class__ is Rid:
        doc["id"] = rid.key
    return doc


def _first_error(results: list) -> str | None:
    for stmt in results:
        if stmt.get("status") == "ERR":
            message = str(stmt.get("result"))
            if message != _FAILED_TXN:
                return message
    for stmt in results:
        if stmt.get("status") == "ERR":
            return str(stmt.get("result"))
    return None


def is_engine_conflict(message: str) -> bool:
    lowered = message.lower()
    return "can be retried" in lowered or "read or write conflict" in lowered


def check_ok(results: list, what: str) -> list:
    """Raise the library's error for the first failed statement, else return ``results``."""
    message = _first_error(results)
    if message is None:
        return results
    if is_engine_conflict(message):
        raise EngineConflict(message)
    raise StoreError(f"SurrealDB {what} failed: {message}")


class SurrealBackend(Backend):
    name = "surrealdb"

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        url: str,
        namespace: str,
        database: str,
        facts: dict,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.name = name  # type: ignore[misc]  # an instance attribute shadows the ClassVar
        self.url = url
        self._t = transport
        self._namespace = namespace
        self._database = database
        self._facts = facts
        self._on_close = on_close
        self._defined: set[str] = set()
        self._defined_lock = threading.Lock()
        self._closed = False
        self.engine_retries = 0  # commits retried after an engine conflict (for tests/info)

    # -- helpers -------------------------------------------------------------------------
    def _query(self, sql: str, vars: dict, what: str) -> list:
        delays = READ_RETRY.delays()
        while True:
            try:
                return check_ok(self._t.run(sql, vars), what)
            except EngineConflict:  # a read aborted by a concurrent writer: just read again
                pause = next(delays, None)
                if pause is None:
                    raise
                time.sleep(pause)

    def _one(self, sql: str, vars: dict, what: str) -> Any:
        results = self._query(sql, vars, what)
        return results[-1].get("result")

    # -- reads ---------------------------------------------------------------------------
    def get(self, table: str, id: str) -> dict | None:
        doc = self._one("SELECT * FROM ONLY $r", {"r": Rid(table, id)}, "get")
        return _plain(doc) if doc else None

    def get_many(self, table: str, ids: list[str]) -> list[dict]:
        if not ids:
            return []
        unique = list(dict.fromkeys(ids))
        rows = self._one("SELECT * FROM $rs", {"rs": [Rid(table, i) for i in unique]}, "get_many")
        found = {}
        for row in rows or ():
            doc = _plain(row)
            found[doc["id"]] = doc
        out = []
        seen: set = set()
        for i in ids:
            hit = found.get(i)
            if hit is not None:
                out.append(hit if i not in seen else copy_json(hit))
                seen.add(i)
        return out

    def scan(self, table: str) -> Iterable[dict]:
        rows = self._one("SELECT * FROM type::table($tb) ORDER BY id", {"tb": table}, "scan")
        return [_plain(row) for row in rows or ()]

    def find(self, table: str, query: Query) -> list[dict]:
        vars: dict = {"tb": table}
        sql = surql.select(query, surql.Params(vars))
        rows = self._one(sql, vars, "find") or ()
        if query.order:
            return [_plain(row["d"]) for row in rows]
        return [_plain(row) for row in rows]

    def count(self, table: str, query: Query) -> int:
        vars: dict = {"tb": table}
        rows = self._one(surql.count(query, surql.Params(vars)), vars, "count")
        return int(rows[0]["count"]) if rows else 0

    def tables(self) -> list[str]:
        info = self._one("INFO FOR DB", {}, "tables") or {}
        names = sorted(
            t
            for t in (info.get("tables") or {})
            if not t.startswith(_INTERNAL_PREFIX) and TABLE_RE.fullmatch(t)
        )
        if not names:
            return []
        vars = {f"t{i}": t for i, t in enumerate(names)}
        sql = (
            "RETURN ["
            + ", ".join(
                f"count(SELECT VALUE id FROM type::table($t{i}) LIMIT 1)" for i in range(len(names))
            )
            + "];"
        )
        counts = self._one(sql, vars, "tables")
        return [t for t, n in zip(names, counts) if n]

    # -- writes --------------------------------------------------------------------------
    def commit(self, writes: list[Write], checks: dict) -> CommitResult:
        if not writes and not checks:
            return CommitResult(None, [])
        tid = uuid.uuid4().hex if self._t.remote else None
        delays = COMMIT_RETRY.delays()
        resends = 0
        while resends <= RESENDS:
            with self._defined_lock:
                new_tables = sorted({w.table for w in writes if w.kind != "delete"} - self._defined)
            sql, vars = self._commit_query(writes, checks, new_tables, tid)
            try:
                results = self._t.run(sql, vars, idempotent=False)
            except OutcomeUnknown as lost:
                try:
                    landed = self._find_commit(tid, len(writes))
                except BackendUnavailableError as exc:
                    raise BackendUnavailableError(
                        f"the connection to {self.url} failed after a commit was sent ({lost}), "
                        f"and the server could not be asked whether it was applied: its outcome is "
                        f"unknown (transaction id {tid}). {exc}"
                    ) from None
                if landed is not None:
                    self._mark_defined(new_tables)
                    return landed
                resends += 1
                continue  # it did not land: send it again (same transaction id)
            try:
                result = self._commit_result(results, writes, checks, tid)
            except EngineConflict:
                self.engine_retries += 1
                pause = next(delays, None)
                if pause is None:
                    raise ConflictError(
                        "SurrealDB kept aborting this commit on conflicts with concurrent "
                        f"commits ({self.engine_retries} retries); nothing was written"
                    ) from None
                time.sleep(pause)
                continue
            except _AlreadyCommitted:
                landed = self._find_commit(tid, len(writes))
                if landed is None:  # pragma: no cover - the marker exists, so must the commit
                    raise StoreError("commit marker found without its commit") from None
                self._mark_defined(new_tables)
                return landed
            self._mark_defined(new_tables)
            return result
        raise BackendUnavailableError(f"could not commit to {self.url}: the outcome stayed unknown")

    def _mark_defined(self, tables: list[str]) -> None:
        if tables:
            with self._defined_lock:
                self._defined.update(tables)

    def _commit_query(
        self, writes: list[Write], checks: dict, new_tables: list[str], tid: str | None
    ) -> tuple[str, dict]:
        vars: dict = {}
        lines = ["BEGIN TRANSACTION;"]
        lines.extend(_define_table(t) for t in new_tables)
        for i, ((table, id), version) in enumerate(checks.items()):
            vars[f"k{i}"] = Rid(table, id)
            if version is None:
                lines.append(f"IF record::exists($k{i}) {{ THROW 'cs:check:{i}' }};")
            else:
                vars[f"v{i}"] = version
                lines.append(
                    f"IF (SELECT VALUE _version FROM ONLY $k{i}) != $v{i} "
                    f"{{ THROW 'cs:check:{i}' }};"
                )
        names = []
        returned = []  # what comes back: only what the client cannot rebuild itself
        for i, w in enumerate(writes):
            vars[f"r{i}"] = Rid(w.table, w.id)
            names.append(f"$w{i}")
            if w.kind == "delete":
                lines.append(
                    f"LET $w{i} = IF (DELETE $r{i} RETURN BEFORE) THEN $r{i} ELSE NONE END;"
                )
                returned.append(f"$w{i} != NONE")
                continue
            vars[f"d{i}"] = w.doc if w.doc is not None else {}
            if w.kind == "insert":
                lines.append(f"LET $w{i} = (CREATE $r{i} CONTENT $d{i})[0];")
                returned.append("1")
            elif w.kind == "put":
                lines.append(f"LET $w{i} = (UPSERT $r{i} CONTENT $d{i})[0];")
                returned.append(f"$w{i}._version")
            elif w.kind == "merge" and not _has_object_value(w.doc):
                # no object values: SurrealQL's MERGE replaces each field, i.e. merges shallowly
                lines.append(f"LET $w{i} = (UPDATE $r{i} MERGE $d{i})[0];")
                lines.append(f"IF !$w{i} {{ THROW 'cs:missing:{i}' }};")
                returned.append(f"$w{i}")
            elif w.kind == "merge":  # shallow: SurrealQL's MERGE would merge nested objects
                lines.append(
                    f"LET $w{i} = (UPDATE $r{i} CONTENT object::from_entries(array::concat("
                    f"object::entries($this), object::entries($d{i}))))[0];"
                )
                lines.append(f"IF !$w{i} {{ THROW 'cs:missing:{i}' }};")
                returned.append(f"$w{i}")
        bump = f"(UPSERT {META}:seq SET n += 1 RETURN VALUE n)[0]"
        all_w = f"[{', '.join(names)}]"
        vars["tbs"] = sorted({w.table for w in writes})
        if any(w.kind != "delete" for w in writes):
            lines.append(f"LET $s = {bump};")
            lines.append(
                f"CREATE type::thing('{LOG}', $s) CONTENT {{w: {all_w}, tb: $tbs}} RETURN NONE;"
            )
        else:
            lines.append(f"LET $s = IF array::any({all_w}) THEN {bump} ELSE NONE END;")
            lines.append(
                f"IF $s {{ CREATE type::thing('{LOG}', $s) CONTENT {{w: {all_w}, tb: $tbs}} "
                "RETURN NONE };"
            )
        if tid is not None:
            vars["tid"] = Rid(TXN, tid)
            lines.append("CREATE $tid CONTENT {s: $s, at: time::now()} RETURN NONE;")
        lines.append(f"RETURN [$s, {', '.join(returned)}];")
        lines.append("COMMIT TRANSACTION;")
        return "\n".join(lines), vars

    def _commit_result(
        self, results: list, writes: list[Write], checks: dict, tid: str | None
    ) -> CommitResult:
        message = _first_error(results)
        if message is not None:
            thrown = _THROWN.search(message)
            if thrown:
                kind, index = thrown.group(1), int(thrown.group(2))
                if kind == "check":
                    (table, id), version = list(checks.items())[index]
                    expected = "absent" if version is None else f"at version {version}"
                    raise ConflictError(f"{table}:{id} changed: it is no longer {expected}")
                w = writes[index]
                raise NotFoundError(f"{w.table}:{w.id} does not exist")
            exists = _EXISTS.search(message)
            if exists:
                if tid is not None and exists.group(1).startswith(TXN + ":"):
                    raise _AlreadyCommitted()
                raise ConflictError(f"cannot insert: record {exists.group(1)} already exists")
            if is_engine_conflict(message):
                raise EngineConflict(message)
            raise StoreError(f"SurrealDB commit failed: {message}")
        out = results[-1].get("result") or [None]
        return _rebuild(out[0], out[1:], writes)

    def _find_commit(self, tid: str | None, n_writes: int) -> CommitResult | None:
        """After a lost reply: the commit's result if its marker is there, else None."""
        if tid is None:
            return None
        rows = self._query(
            f"LET $m = (SELECT * FROM ONLY $tid); "
            f"RETURN {{m: $m, l: IF $m.s THEN (SELECT * FROM ONLY type::thing('{LOG}', $m.s)) "
            "ELSE NONE END};",
            {"tid": Rid(TXN, tid)},
            "commit recovery",
        )
        found = rows[-1].get("result") or {}
        marker = found.get("m")
        if not marker:
            log.warning(
                "commit %s did not land before the connection dropped: sending it again", tid
            )
            return None
        log.warning("commit %s landed before the connection dropped: not sending it again", tid)
        seq = marker.get("s")
        if not seq:
            return CommitResult(None, [None] * n_writes)
        entry = found.get("l") or {}
        return _result(seq, entry.get("w") or [], None, n_writes)

    # -- change log ----------------------------------------------------------------------
    def changes(
        self, since: int = 0, tables: list[str] | None = None, limit: int | None = None
    ) -> list[Change]:
        out: list[Change] = []
        if limit == 0:
            return out
        wanted = None if tables is None else set(tables)
        batch = 256 if limit is None else max(16, min(limit, 1024))
        cursor = int(since)
        while True:
            vars: dict = {"n": batch}
            where = ""
            if tables is not None:
                vars["tables"] = sorted(tables)
                where = " WHERE tb CONTAINSANY $tables"
            # the range bound is an int formatted by Python (record-id ranges take no params)
            rows = (
                self._one(
                    f"SELECT * FROM {LOG}:{cursor + 1}..{where} ORDER BY id LIMIT $n",
                    vars,
                    "changes",
                )
                or []
            )
            for row in rows:
                seq = int(row["id"].key)
                cursor = seq
                for change in _result(seq, row.get("w") or [], None).changes:
                    if change is None or (wanted is not None and change.table not in wanted):
                        continue
                    out.append(change)
                    if limit is not None and len(out) >= limit:
                        return out
            if len(rows) < batch:
                return out

    # -- lifecycle -----------------------------------------------------------------------
    def info(self) -> dict:
        return {
            **self._facts,
            "namespace": self._namespace,
            "database": self._database,
            **self._t.info(),
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._t.close()
        finally:
            if self._on_close is not None:
                self._on_close()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name} {self.url!r} "
            f"ns={self._namespace!r} db={self._database!r}>"
        )


def _has_object_value(doc: dict | None) -> bool:
    """Whether SurrealQL's (deep) MERGE would differ from a shallow merge of ``doc``."""
    return doc is not None and any(value.__class__ is dict for value in doc.values())


class _AlreadyCommitted(Exception):
    """A re-sent commit found its own marker: the first attempt had landed."""


def _rebuild(seq: Any, returned: list, writes: list[Write]) -> CommitResult:
    """The commit's result from what its query returned (see ``_commit_query``): 1 for an
    insert (version 1), the new version for a put, the document for a merge, whether a delete
    found its record."""
    changes: list = []
    seq = int(seq) if seq else None
    for w, item in zip(writes, returned):
        if w.kind == "delete":
            changes.append(Change(seq, w.table, w.id, "delete", None) if item else None)
        elif w.kind == "merge":
            changes.append(Change(seq, w.table, w.id, "update", _plain(item)))
        else:
            doc = {**w.doc} if w.doc else {}  # nested values shared with w.doc, the Store's
            doc["id"] = w.id  # private copy (it copies again for callers)
            doc["_version"] = version = int(item)
            changes.append(Change(seq, w.table, w.id, "insert" if version == 1 else "update", doc))
    if not any(changes):
        seq = None
    return CommitResult(seq, changes)


def _result(
    seq: Any, results: list, writes: list[Write] | None, n: int | None = None
) -> CommitResult:
    """Build a CommitResult from the per-write results stored in a commit."""
    changes: list = []
    seq = int(seq) if seq else None
    for item in results:
        if item is None:
            changes.append(None)
        elif item.__class__ is Rid:
            changes.append(Change(seq, item.table, item.key, "delete", None))
        else:
            rid = item["id"]
            doc = _plain(item)
            op: Literal["insert", "update"] = "insert" if doc.get("_version") == 1 else "update"
            changes.append(Change(seq, rid.table, rid.key, op, doc))
    if n is not None and len(changes) < n:
        changes.extend([None] * (n - len(changes)))
    if not any(changes):
        seq = None
    return CommitResult(seq, changes)
