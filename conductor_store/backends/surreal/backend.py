"""The SurrealDB backend: one project = one database; records, a commit log and indexes.

Layout inside the database (internal names contain capitals, which table names cannot):

* ``<table>:<id>``   -- the records: their fields plus ``_version``, the number of the commit
  that last wrote the record (it grows on every write and never repeats for a key, even across
  delete and re-create).
* ``_CS_log:<seq>``  -- commit number ``seq`` (1, 2, 3, ... dense, in commit order): per write
  its record id, the document after it and its op, the tables it touched and its wall-clock
  time (see ``commit.py``, which also explains why that makes commits serialisable).
  :meth:`changes` reads bounded record-id ranges of it: O(changes returned).
* ``_CS_meta:seq``   -- ``{n}``: a recent commit number, a hint where to look for the last one
  (written every ``HINT_EVERY`` commits; stores of earlier versions kept it exact).
* ``_CS_meta:pruned`` -- ``{n}``: :meth:`prune_changes` removed the log up to ``n``.
* ``_CS_txn:<uuid>`` -- remote commits only: ``{s}``, written by the commit itself, so that a
  commit whose reply was lost with the connection can be found instead of being sent twice.

Why not SurrealDB's change feeds: measured on the engine in the SDK wheel (surrealdb-core
2.3.10), a commit touching two tables gets *two* versionstamps (one per table, 65536 apart),
so no single number identifies a commit, the write order across tables is lost, and the
versionstamp cannot be read inside the transaction (``SHOW CHANGES`` after ``COMMIT`` is racy
with other writers). The ``_CS_log`` record costs one write per commit, not per record.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Callable, Iterable

from ...errors import CommitUnknownError, ConflictError, StoreError
from ...query import Query
from ...retry import RetryPolicy
from ...validation import TABLE_RE, copy_json
from ..base import Backend, Change, CommitResult, IndexSpec, Write
from . import commit as cm
from . import indexes as ix
from . import ordered, surql
from .codec import Rid
from .commit import LOG, META, TXN, EngineConflict, first_error, is_engine_conflict, plain

__all__ = ["SurrealBackend", "Transport", "OutcomeUnknown", "is_engine_conflict"]

log = logging.getLogger("conductor_store.surreal")

_INTERNAL_PREFIX = "_CS_"

#: a read the engine aborted on a conflict with a writer is simply read again
READ_RETRY = RetryPolicy(attempts=7, base=0.001, cap=0.01)
#: a commit the engine aborted (conflict, or a number taken meanwhile) wrote nothing: back off
#: and send it again
COMMIT_RETRY = RetryPolicy(attempts=None, base=0.0005, cap=0.05, deadline=30.0)
#: a remote commit that did not land before its connection failed is sent again this often
RESENDS = 3
#: how many log records one query of :meth:`changes` reads at most
CHANGES_BATCH = 512


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


def check_ok(results: list, what: str) -> list:
    """Raise the library's error for the first failed statement, else return ``results``."""
    message = first_error(results)
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
        self._indexed: set[tuple[str, str]] | None = None  # see _single_indexes
        self._defined_lock = threading.Lock()
        self._closed = False
        self.engine_retries = 0  # commits retried after an engine conflict (for tests/info)
        self._seq_lock = threading.Lock()
        self._seq = 0  # the highest commit number known to exist
        self._pruned = 0
        self._seq = self._find_last()

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
        return plain(doc) if doc else None

    def get_many(self, table: str, ids: list[str]) -> list[dict]:
        if not ids:
            return []
        unique = list(dict.fromkeys(ids))
        rows = self._one("SELECT * FROM $rs", {"rs": [Rid(table, i) for i in unique]}, "get_many")
        found = {}
        for row in rows or ():
            doc = plain(row)
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
        return [plain(row) for row in rows or ()]

    def find(self, table: str, query: Query) -> list[dict]:
        if surql.leaves(query.where) > surql.MAX_LEAVES:
            return super().find(table, query)  # in Python, over one scan: linear
        # the walk relies on the index order of the engine in the installed wheel (a test
        # checks it); a server's version is not known here, so remote stores sort
        name = None if self._t.remote else ordered.field_of(query)
        if name is not None and (table, name) in self._single_indexes():
            served = ordered.find(self, table, query, name)
            if served is not None:
                return served
        vars: dict = {"tb": table}
        sql = surql.select(query, surql.Params(vars))
        rows = self._one(sql, vars, "find") or ()
        if query.order:
            return [plain(row["d"]) for row in rows]
        return [plain(row) for row in rows]

    def count(self, table: str, query: Query) -> int:
        if surql.leaves(query.where) > surql.MAX_LEAVES:
            return super().count(table, query)
        vars: dict = {"tb": table}
        rows = self._one(surql.count(query, surql.Params(vars)), vars, "count")
        return int(rows[0]["count"]) if rows else 0

    def nearest(
        self, table: str, field: str, vector: list[float], k: int, query: Query | None = None
    ) -> list[tuple[dict, float]]:
        """The engine filters and scores (``vector::similarity::cosine``) and returns only ids
        and scores; the ``k`` best documents are then read. Same answers as the default:
        records without a list of numbers as long as ``vector`` (or with an all-zero one) are
        left out, ties go by id."""
        if not any(vector) or (query is not None and surql.leaves(query.where) > surql.MAX_LEAVES):
            return super().nearest(table, field, vector, k, query)
        vars: dict = {"tb": table, "v": vector, "n": len(vector)}
        f = surql.field(tuple(field.split(".")))
        where = surql.where_clause(query, surql.Params(vars)) if query is not None else ""
        valid = (
            f"type::is::array({f}) AND array::len({f}) = $n "
            f"AND array::all({f}, |$x| type::is::number($x)) AND vector::magnitude({f}) > 0"
        )
        where = f"{where} AND ({valid})" if where else f" WHERE {valid}"
        sql = (
            f"SELECT record::id(id) AS i, vector::similarity::cosine({f}, $v) AS s "
            f"FROM type::table($tb){where}"
        )
        scored = sorted(((r["s"], r["i"]) for r in self._one(sql, vars, "nearest") or ()),
                        key=lambda pair: (-pair[0], pair[1]))[:k]  # fmt: skip
        docs = {d["id"]: d for d in self.get_many(table, [i for _, i in scored])}
        return [(docs[i], score) for score, i in scored if i in docs]

    # -- store.query / store.surrealql (translation in select.py) ------------------------
    def select(self, bound: Any) -> list[dict]:
        from . import select

        return select.run(self, bound)

    def surrealql(self, text: str, vars: dict) -> list:
        from . import select

        return select.raw(self, text, vars)

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

    # -- indexes -------------------------------------------------------------------------
    def ensure_index(self, spec: IndexSpec) -> None:
        """``DEFINE INDEX`` (idempotent, see ``indexes.py``); a unique index over records that
        already repeat a value raises ``ConflictError`` and is not defined."""
        try:
            self._query(ix.define(spec), {}, "ensure_index")
            if self._indexed is not None and len(spec.fields) == 1:
                self._indexed.add((spec.table, spec.fields[0]))
        except StoreError as exc:
            if "already contains" in str(exc):
                raise ConflictError(
                    f"cannot make {spec.table}({', '.join(spec.fields)}) unique: {exc}"
                ) from None
            raise

    def _single_indexes(self) -> set[tuple[str, str]]:
        """``(table, field)`` of the one-field indexes: read once, then kept by
        :meth:`ensure_index` (an index another process defines later is not used for
        ordering until the store is opened again; answers are the same either way)."""
        if self._indexed is None:
            self._indexed = {(s.table, s.fields[0]) for s in self.indexes() if len(s.fields) == 1}
        return self._indexed

    def indexes(self) -> list[IndexSpec]:
        info = self._one("INFO FOR DB", {}, "indexes") or {}
        names = sorted(t for t in (info.get("tables") or {}) if TABLE_RE.fullmatch(t))
        if not names:
            return []
        # validated identifiers (TABLE_RE): INFO FOR TABLE takes no parameter
        sql = " ".join(f"INFO FOR TABLE `{t}`;" for t in names)
        found = [
            spec
            for table, info in zip(names, self._one_many(sql, {}, "indexes"))
            for spec in ix.specs(table, info or {})
        ]
        return sorted(found)

    # -- writes --------------------------------------------------------------------------
    def commit(self, writes: list[Write], checks: dict) -> CommitResult:
        if not writes and not checks:
            return CommitResult(None, [])
        tid = uuid.uuid4().hex if self._t.remote else None
        delays = COMMIT_RETRY.delays()
        resends = 0
        while True:
            with self._defined_lock:
                new_tables = sorted({w.table for w in writes if w.kind != "delete"} - self._defined)
            plan = cm.plan(writes, checks, new_tables, self._seq + 1, time.time(), tid)
            try:
                results = self._t.run(plan.sql, plan.vars or {}, idempotent=False)
            except OutcomeUnknown as lost:
                landed = self._find_commit(tid, writes, str(lost))
                if landed is None and resends < RESENDS:
                    resends += 1
                    continue  # it did not land: send it again (same transaction id)
                if landed is None:
                    raise CommitUnknownError(
                        f"could not commit to {self.url}: the connection failed after each of "
                        f"{resends + 1} sends ({lost}); the last one's outcome is unknown "
                        f"(transaction id {tid}). {_HOW_TO_FIND_OUT}"
                    ) from None
                result = landed
            else:
                try:
                    result = plan.result(results)
                except (EngineConflict, cm.StaleSeq) as retry:
                    self._retry(retry, delays)
                    continue
                except cm.AlreadyCommitted:
                    found = self._find_commit(tid, writes, "a resent commit found its marker")
                    if found is None:  # pragma: no cover - the marker exists, so must the commit
                        raise StoreError("commit marker found without its commit") from None
                    result = found
            self._mark_defined(new_tables)
            self._advance(result.seq)
            return result

    def _retry(self, why: Exception, delays: Any) -> None:
        """Before sending a commit again: learn the last number or back off (or give up)."""
        pause = next(delays, None)
        if pause is None:
            raise ConflictError(
                "SurrealDB kept aborting this commit on conflicts with concurrent commits "
                f"for {COMMIT_RETRY.deadline:g} s; nothing was written"
            ) from None
        self.engine_retries += 1
        if isinstance(why, cm.StaleSeq):
            known = self._seq
            self._advance(self._find_last())
            if self._seq != known:
                return  # another commit took the number: try the next one at once
        time.sleep(pause)

    def _advance(self, seq: int | None) -> None:
        if seq:
            with self._seq_lock:
                if seq > self._seq:
                    self._seq = seq

    def _mark_defined(self, tables: list[str]) -> None:
        if tables:
            with self._defined_lock:
                self._defined.update(tables)

    def _find_last(self) -> int:
        """The highest commit number in the log: from the best known lower bound, probe
        ``_CS_log`` record ids (the log is dense above the pruned part), O(log distance)."""
        meta = self._one(
            f"RETURN [(SELECT VALUE n FROM ONLY {META}:seq), (SELECT VALUE n FROM ONLY "
            f"{META}:pruned), record::exists({LOG}:{max(self._seq, 1)})];",
            {},
            "open",
        )
        hint, pruned, known = (meta[0] or 0), (meta[1] or 0), meta[2]
        self._pruned = max(self._pruned, int(pruned))
        base = max(int(hint), self._pruned, self._seq if known else 0)
        lo, hi = 0, 1  # offsets from base: lo exists (or is base), hi does not
        while True:  # exponential: 1, 2, 4, ... 2**40 in one query
            offsets = [1 << j for j in range(41) if (1 << j) > lo]
            found = self._exists([base + o for o in offsets])
            hits = [o for o, f in zip(offsets, found) if f]
            if not hits:
                hi = offsets[0]
                break
            lo = max(hits)
            if lo != offsets[-1]:
                hi = offsets[offsets.index(lo) + 1]
                break
        while hi - lo > 1:  # then about 64 evenly spaced probes per query
            step = max(1, (hi - lo) // 64)
            offsets = list(range(lo + step, hi, step))
            for offset, exists in zip(offsets, self._exists([base + o for o in offsets])):
                if not exists:
                    hi = offset
                    break
                lo = offset
        return base + lo

    def _exists(self, seqs: list[int]) -> list[bool]:
        items = ", ".join(f"record::exists({LOG}:{int(s)})" for s in seqs)
        return list(self._one(f"RETURN [{items}];", {}, "open"))

    def _find_commit(self, tid: str | None, writes: list[Write], lost: str) -> CommitResult | None:
        """After a lost reply: the commit's result if its marker is there, else None."""
        if tid is None:
            return None
        try:
            rows = self._query(
                "LET $m = (SELECT * FROM ONLY $tid); RETURN {m: $m, l: IF $m.s THEN "
                f"(SELECT * FROM ONLY type::thing('{LOG}', $m.s)) ELSE NONE END}};",
                {"tid": Rid(TXN, tid)},
                "commit recovery",
            )
        except StoreError as exc:
            raise CommitUnknownError(
                f"the connection to {self.url} failed after a commit was sent ({lost}), and "
                f"the server could not be asked whether it was applied: its outcome is unknown "
                f"(transaction id {tid}). {_HOW_TO_FIND_OUT} ({exc})"
            ) from None
        found = rows[-1].get("result") or {}
        marker = found.get("m")
        if not marker:
            log.warning("commit %s did not land before the connection dropped: resending", tid)
            return None
        log.warning("commit %s landed before the connection dropped: not sending it again", tid)
        if not marker.get("s"):
            return CommitResult(None, [None] * len(writes))
        return cm.from_log(found.get("l") or {}, len(writes))

    # -- change log ----------------------------------------------------------------------
    def changes(
        self, since: int = 0, tables: list[str] | None = None, limit: int | None = None
    ) -> list[Change]:
        out: list[Change] = []
        if limit == 0:
            return out
        wanted = None if tables is None else set(tables)
        vars: dict = {} if tables is None else {"tables": sorted(tables)}
        where = "" if tables is None else " WHERE tb CONTAINSANY $tables"
        cursor = max(int(since), self._pruned)
        while True:
            # a bounded range of record ids (ints formatted by Python; ranges take no params);
            # a log record holds at least one change: no more records than changes still wanted
            batch = CHANGES_BATCH if limit is None else min(CHANGES_BATCH, limit - len(out))
            hi = cursor + batch
            rows, more = self._one_many(
                f"SELECT * FROM {LOG}:{cursor + 1}..={hi}{where} ORDER BY id; "
                f"RETURN record::exists({LOG}:{hi + 1});",
                vars,
                "changes",
            )
            for row in rows or ():
                for change in cm.from_log(row).changes:
                    if change is None or (wanted is not None and change.table not in wanted):
                        continue
                    out.append(change)
                    if limit is not None and len(out) >= limit:
                        return out
            if not more:
                return out
            cursor = hi

    def _one_many(self, sql: str, vars: dict, what: str) -> list:
        return [stmt.get("result") for stmt in self._query(sql, vars, what)]

    def pruned_through(self) -> int:
        n = self._one(f"SELECT VALUE n FROM ONLY {META}:pruned", {}, "pruned_through")
        self._pruned = max(self._pruned, int(n or 0))
        return self._pruned

    def prune_changes(self, through: int) -> None:
        """Delete ``_CS_log`` records numbered <= ``through``, keeping the last commit's record
        (the next commit checks that its predecessor exists), and remember ``through``."""
        self._advance(self._find_last())
        last = self._seq
        through = min(int(through), last)
        if through <= self.pruned_through():
            return
        stop = min(through, last - 1)
        delete = f"DELETE {LOG}:{self._pruned + 1}..={stop};" if stop > self._pruned else ""
        markers = f"DELETE {TXN} WHERE s <= {through};" if self._t.remote else ""
        self._query(
            f"BEGIN TRANSACTION; {delete} {markers} "
            f"UPSERT {META}:pruned SET n = math::max([n ?? 0, {through}]) RETURN NONE; "
            "COMMIT TRANSACTION;",
            {},
            "prune_changes",
        )
        self._pruned = max(self._pruned, through)

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


_HOW_TO_FIND_OUT = (
    "To find out, read the records it wrote (their _version is the commit's number when it "
    "landed) or changes() since the last number you saw; do not resend a non-idempotent commit "
    "blindly"
)
