"""One commit as one SurrealQL query, and its result rebuilt from what that query returns.

The commit protocol (see the package's ``backend.py`` for the layout it writes):

* The client proposes the commit's number ``s`` = the last number it knows + 1, and the engine
  refuses to ``CREATE`` ``_CS_log:<s>`` when it exists. A backend only ever knows numbers
  that were committed (its own results, or the log probed by ``_find_last``), so a proposal
  is never too high: ``s`` is exactly the next number, the log stays dense (1, 2, 3, ... in
  commit order), and any two overlapping commits write the same log record and conflict --
  commits are serialisable, which the checks (compare-and-set) rely on. A stale proposal
  (another backend committed meanwhile) costs one retry after the backend learns the last
  number again.
* Every written record gets ``_version = s`` (the seq of the commit that last wrote it, like
  etcd's mod_revision): it never repeats for a key, even across delete and re-create.
* ``_CS_log:<s>`` holds ``{k: [record ids], w: [documents], o: [ops], tb: [tables], t: time}``
  -- per write its record id, the document after it (NONE for a delete), its op (``i``, ``u``,
  ``d``, or NONE when the write changed nothing) -- and the commit's wall-clock time.
* The whole commit is one ``BEGIN ... COMMIT`` with every value bound; the query returns only
  what the client cannot know (whether a put replaced a record, a merge's document, whether a
  delete found its record).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ...errors import ConflictError, NotFoundError, StoreError
from ..base import Change, CommitResult, Write
from .codec import Rid

META = "_CS_meta"
LOG = "_CS_log"
TXN = "_CS_txn"
#: every this many commits, ``_CS_meta:seq`` records the number (a hint for opening)
HINT_EVERY = 1024

_FAILED_TXN = "The query was not executed due to a failed transaction"
_THROWN = re.compile(r"An error occurred: cs:(check|missing):(\d+)")
_EXISTS = re.compile(r"Database record `(.*)` already exists")
_UNIQUE = re.compile(r"Database index `(.*?)` already contains (.*), with record `(.*)`")
_OPS: dict[Any, Literal["insert", "update", "delete"]] = {
    "i": "insert",
    "u": "update",
    "d": "delete",
}


class EngineConflict(Exception):
    """The engine aborted a transaction on a read/write conflict: nothing was written."""


class StaleSeq(Exception):
    """The proposed commit number was not the next one: nothing was written."""


class AlreadyCommitted(Exception):
    """A re-sent commit found its own marker: the first attempt had landed."""


def first_error(results: list) -> str | None:
    """The first failed statement's message (the cause, not the "failed transaction" echo)."""
    errors = [str(stmt.get("result")) for stmt in results if stmt.get("status") == "ERR"]
    for message in errors:
        if message != _FAILED_TXN:
            return message
    return errors[0] if errors else None


def is_engine_conflict(message: str) -> bool:
    lowered = message.lower()
    return "can be retried" in lowered or "read or write conflict" in lowered


def define_table(table: str) -> str:
    """Define ``table`` on its first write. Table names are validated identifiers (the Store
    checks them), quoted anyway. Stores written before ``_version`` became the commit's seq
    computed it with a field definition, which would override the value written: removed."""
    return (
        f"DEFINE TABLE IF NOT EXISTS `{table}` SCHEMALESS; "
        f"REMOVE FIELD IF EXISTS _version ON `{table}`;"
    )


@dataclass
class Plan:
    """A commit's query for proposed number ``seq``, and how to read its reply."""

    writes: list
    checks: dict
    seq: int
    time: float
    tid: str | None
    sql: str = ""
    vars: dict | None = None

    def result(self, results: list) -> CommitResult:
        """The commit's result, or the library's error for why it wrote nothing."""
        message = first_error(results)
        if message is not None:
            raise self._error(message)
        returned = results[-1].get("result") if self._returns() else []
        return rebuild(self.seq, self.time, returned or [], self.writes)

    def _returns(self) -> bool:
        return any(w.kind != "insert" for w in self.writes) or not self.writes

    def _error(self, message: str) -> Exception:
        thrown = _THROWN.search(message)
        if thrown:
            kind = thrown.group(1)
            index = int(thrown.group(2))
            if kind == "check":
                (table, id), version = list(self.checks.items())[index]
                expected = "absent" if version is None else f"at version {version}"
                return ConflictError(f"{table}:{id} changed: it is no longer {expected}")
            w = self.writes[index]
            return NotFoundError(f"{w.table}:{w.id} does not exist")
        exists = _EXISTS.search(message)
        if exists:
            name = exists.group(1)
            if name.startswith(LOG + ":"):
                return StaleSeq()
            if name.startswith(TXN + ":"):
                return AlreadyCommitted()
            return ConflictError(f"cannot insert: record {name} already exists")
        unique = _UNIQUE.search(message)
        if unique:
            index_name = unique.group(1).strip("`")
            fields = index_name.split("-")[-1] if index_name.startswith("_CS_ix") else index_name
            return ConflictError(
                f"unique index on ({fields}): {unique.group(3)} already has the value(s) "
                f"{unique.group(2)}; nothing was written"
            )
        if is_engine_conflict(message):
            return EngineConflict(message)
        return StoreError(f"SurrealDB commit failed: {message}")


def plan(
    writes: list[Write],
    checks: dict,
    new_tables: list[str],
    seq: int,
    now: float,
    tid: str | None,
) -> Plan:
    """The query committing ``writes`` as number ``seq`` after verifying ``checks``."""
    p = Plan(writes, checks, seq, now, tid)
    vars: dict = {}
    lines = ["BEGIN TRANSACTION;"]
    lines.extend(define_table(t) for t in new_tables)
    lines.extend(_checks(checks, vars))
    keys, docs, ops, returned = [], [], [], []
    for i, w in enumerate(writes):
        vars[f"r{i}"] = Rid(w.table, w.id)
        keys.append(f"$r{i}")
        if w.kind == "delete":
            lines.append(f"LET $x{i} = IF (DELETE $r{i} RETURN BEFORE) THEN true ELSE false END;")
            docs.append("NONE")
            ops.append(f"IF $x{i} THEN 'd' ELSE NONE END")
            returned.append(f"$x{i}")
            continue
        doc = dict(w.doc) if w.doc else {}
        doc["_version"] = seq
        vars[f"d{i}"] = doc
        lines.append(_write(w, i))
        if w.kind == "insert":
            docs.append(f"$d{i}")
            ops.append("'i'")
        elif w.kind == "put":
            docs.append(f"$d{i}")
            ops.append(f"IF $x{i} THEN 'u' ELSE 'i' END")
            returned.append(f"$x{i}")
        else:
            lines.append(f"IF !$w{i} {{ THROW 'cs:missing:{i}' }};")
            docs.append(f"$w{i}")
            ops.append("'u'")
            returned.append(f"$w{i}")
    if writes:
        lines.extend(_log(p, vars, keys, docs, ops))
    if returned or not writes:
        lines.append(f"RETURN [{', '.join(returned)}];")
    lines.append("COMMIT TRANSACTION;")
    p.sql, p.vars = "\n".join(lines), vars
    return p


def _checks(checks: dict, vars: dict) -> list[str]:
    lines = []
    for i, ((table, id), version) in enumerate(checks.items()):
        vars[f"k{i}"] = Rid(table, id)
        if version is None:
            lines.append(f"IF record::exists($k{i}) {{ THROW 'cs:check:{i}' }};")
        else:
            vars[f"v{i}"] = version
            lines.append(
                f"IF (SELECT VALUE _version FROM ONLY $k{i}) != $v{i} {{ THROW 'cs:check:{i}' }};"
            )
    return lines


def _write(w: Write, i: int) -> str:
    if w.kind == "insert":
        return f"CREATE $r{i} CONTENT $d{i} RETURN NONE;"
    if w.kind == "put":
        return f"LET $x{i} = (UPSERT $r{i} CONTENT $d{i} RETURN BEFORE)[0] != NONE;"
    if not _has_object_value(w.doc):
        # no object values: SurrealQL's MERGE replaces each field, i.e. merges shallowly
        return f"LET $w{i} = (UPDATE $r{i} MERGE $d{i})[0];"
    # shallow: SurrealQL's MERGE would merge nested objects
    return (
        f"LET $w{i} = (UPDATE $r{i} CONTENT object::from_entries(array::concat("
        f"object::entries($this), object::entries($d{i}))))[0];"
    )


def _log(p: Plan, vars: dict, keys: list, docs: list, ops: list) -> list[str]:
    """The statements taking number ``p.seq`` and writing its log record (and markers)."""
    vars["lr"] = Rid(LOG, p.seq)
    vars["t"] = p.time
    vars["tbs"] = sorted({w.table for w in p.writes})
    take = [
        f"CREATE $lr CONTENT {{k: [{', '.join(keys)}], w: [{', '.join(docs)}], "
        f"o: [{', '.join(ops)}], tb: $tbs, t: $t}} RETURN NONE;"
    ]
    if p.seq % HINT_EVERY == 0:
        take.append(f"UPSERT {META}:seq SET n = {p.seq} RETURN NONE;")
    if p.tid is not None:
        vars["tid"] = Rid(TXN, p.tid)
    changes = all(w.kind != "delete" for w in p.writes)
    if changes:
        lines = take
        if p.tid is not None:
            lines.append(f"CREATE $tid CONTENT {{s: {p.seq}}} RETURN NONE;")
        return lines
    # only deletes: the commit takes a number only if one of them found its record
    hit = " OR ".join(f"$x{i}" for i in range(len(p.writes)))
    lines = [f"IF {hit} {{ {' '.join(take)} }};"]
    if p.tid is not None:
        lines.append(f"CREATE $tid CONTENT {{s: IF {hit} THEN {p.seq} ELSE NONE END}} RETURN NONE;")
    return lines


def _has_object_value(doc: dict | None) -> bool:
    """Whether SurrealQL's (deep) MERGE would differ from a shallow merge of ``doc``."""
    return doc is not None and any(value.__class__ is dict for value in doc.values())


def plain(doc: dict) -> dict:
    """A record as the library shows it: ``id`` as the plain string id."""
    rid = doc.get("id")
    if rid.__class__ is Rid:
        doc["id"] = rid.key
    return doc


def rebuild(seq: int, now: float, returned: list, writes: list[Write]) -> CommitResult:
    """The result of a commit from what its query returned (see :func:`plan`)."""
    changes: list = []
    out = iter(returned)
    for w in writes:
        if w.kind == "delete":
            hit = next(out)
            changes.append(Change(seq, w.table, w.id, "delete", None, now) if hit else None)
        elif w.kind == "merge":
            changes.append(Change(seq, w.table, w.id, "update", plain(next(out)), now))
        else:
            replaced = w.kind == "put" and next(out)
            doc = {**w.doc} if w.doc else {}  # nested values shared with w.doc, the Store's
            doc["id"] = w.id  # private copy (it copies again for callers)
            doc["_version"] = seq
            changes.append(Change(seq, w.table, w.id, "update" if replaced else "insert", doc, now))
    if not any(changes):
        return CommitResult(None, changes)
    return CommitResult(seq, changes)


def from_log(entry: dict, n: int | None = None) -> CommitResult:
    """A commit's result from its ``_CS_log`` record (``n``: pad to that many writes)."""
    seq = int(entry["id"].key)
    now = entry.get("t")
    changes: list = []
    if "k" in entry:
        for rid, doc, op in zip(entry["k"], entry["w"], entry["o"]):
            kind = _OPS.get(op)
            if kind is None:
                changes.append(None)
            elif kind == "delete":
                changes.append(Change(seq, rid.table, rid.key, "delete", None, now))
            else:
                doc = plain(dict(doc))
                doc["id"] = rid.key
                changes.append(Change(seq, rid.table, rid.key, kind, doc, now))
    else:  # written before the log kept ops and keys: insert <=> version 1
        changes = [_legacy(seq, item) for item in entry.get("w") or []]
    if n is not None and len(changes) < n:
        changes.extend([None] * (n - len(changes)))
    return CommitResult(seq if any(changes) else None, changes)


def _legacy(seq: int, item: Any) -> Change | None:
    if item is None:
        return None
    if item.__class__ is Rid:
        return Change(seq, item.table, item.key, "delete", None)
    rid = item["id"]
    doc = plain(item)
    return Change(seq, rid.table, rid.key, "insert" if doc.get("_version") == 1 else "update", doc)
