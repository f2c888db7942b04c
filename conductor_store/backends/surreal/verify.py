"""Data and change log as one unit on disk: checked when an on-disk store opens.

A commit writes its records (each with ``_version`` = the commit's number) and ``_CS_log:<n>``
in one engine transaction. The engine's recovery after a crash, a full disk or a torn log tail
should keep or drop that transaction whole; this module checks that it did, whatever happened,
as the JSON backend checks its own log:

* no record may carry a ``_version`` above the last commit in the log (records of a commit
  whose log record is missing: the commit never completed, its caller saw an error or died);
* the last commit's log record must be reflected by the records it names (a log record whose
  writes are missing).

Such a commit never completed (its caller got an error, or died), so it is rolled back: its
records get their state before it back from the log (the latest commit that wrote them, else
they did not exist) and a log record without its data is removed; a warning names them. When
the log that could tell was pruned, :class:`CorruptRecordError` names the store and records.
A delete of the torn commit cannot be seen (nothing carries its number): that record stays
deleted. The checks run when the engine starts (``embedded.py``: on the first open of a path in a
process, and after the engine is restarted) for every database it holds, before anyone uses
it. They read every record, so the engine's clean close leaves ``_CS_meta:clean`` in each
database and the next start skips the databases that have it (and removes it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ...errors import CorruptRecordError
from ...validation import TABLE_RE
from .codec import Rid
from .commit import LOG, META

if TYPE_CHECKING:
    from .backend import SurrealBackend

log = logging.getLogger("conductor_store.surreal")


def engine_started(engine: Any) -> None:
    """Check every database of an on-disk engine that just started (before anyone else can
    use it), except those its last clean close marked. The markers stay while nothing writes
    (a store only read is left byte for byte as it was); :func:`before_write` removes one
    before the first write, so that a crash before the next clean close means a full check."""
    engine.marked = set()
    for ns, db in _databases(engine):
        session = _session(engine, ns, db)
        clean = session._one(f"SELECT VALUE at FROM ONLY {META}:clean;", {}, "open")
        if clean is None:
            check(session, engine.url)
        else:
            engine.marked.add((ns, db))


def before_write(engine: Any, ns: str, db: str) -> None:
    """Before the first write to a marked database: remove its clean-close marker."""
    if (ns, db) in engine.marked:
        engine.run(ns, db, f"DELETE {META}:clean RETURN NONE;", {})
        engine.marked.discard((ns, db))


def engine_closing(engine: Any) -> None:
    """Mark every database written (or checked) since the start as closed cleanly: the next
    start skips their full check. Databases still marked are left untouched."""
    for ns, db in _databases(engine):
        if (ns, db) not in engine.marked:
            engine.run(ns, db, f"UPSERT {META}:clean SET at = time::now() RETURN NONE;", {})


def check(backend: "SurrealBackend", url: str) -> None:
    """Roll back what a commit that never completed left behind (see the module docstring)."""
    while True:
        _no_record_beyond(backend, url, backend._seq)
        if not backend._seq or not _torn_log_record(backend, url, backend._seq):
            return
        backend._seq -= 1


def _databases(engine: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    root = engine.run("", "", "INFO FOR ROOT;", {}, use=False)
    for ns in sorted((root[-1].get("result") or {}).get("namespaces") or {}):
        info = engine.run(ns, "", "INFO FOR NS;", {}, use="ns")
        out.extend((ns, db) for db in sorted((info[-1].get("result") or {}).get("databases") or {}))
    return out


def _session(engine: Any, ns: str, db: str) -> "SurrealBackend":
    from .backend import SurrealBackend, Transport

    class Direct(Transport):
        def run(self, sql: str, vars: dict, *, idempotent: bool = True) -> list:
            return engine.run(ns, db, sql, vars)

    return SurrealBackend(
        Direct(), name="check", url=engine.url, namespace=ns, database=db, facts={}
    )


def _no_record_beyond(backend: "SurrealBackend", path: str, last: int) -> None:
    """Records written by a commit whose log record is missing get their state before it
    back (from the log: the latest commit that wrote them, else they did not exist)."""
    info = backend._one("INFO FOR DB", {}, "open") or {}
    tables = sorted(t for t in (info.get("tables") or {}) if TABLE_RE.fullmatch(t))
    if not tables:
        return
    vars = {f"t{i}": t for i, t in enumerate(tables)}
    sql = " ".join(
        f"SELECT VALUE id FROM type::table($t{i}) WHERE _version > {int(last)};"
        for i in range(len(tables))
    )
    beyond = [rid for rows in backend._one_many(sql, vars, "open") for rid in rows or ()]
    if not beyond:
        return
    lines, vars = ["BEGIN TRANSACTION;"], {}
    for i, rid in enumerate(beyond):
        vars[f"r{i}"] = rid
        before = _before(backend, rid, last)
        if before is _UNKNOWN:
            raise CorruptRecordError(
                f"{path} is inconsistent: {_names(beyond)} carry versions above "
                f"the last commit in the change log ({last}) -- the engine kept part of a "
                f"commit without its log record -- and the log no longer holds {rid.table}:"
                f"{rid.key}'s state before it (pruned). Restore a backup, or export the "
                "records and rebuild the store.",
                path,
            )
        if before is None:
            lines.append(f"DELETE $r{i};")
        else:
            vars[f"d{i}"] = {k: v for k, v in before.items() if k != "id"}
            lines.append(f"UPSERT $r{i} CONTENT $d{i} RETURN NONE;")
    lines.append("COMMIT TRANSACTION;")
    backend._query("\n".join(lines), vars, "repair")
    log.warning(
        "%s: rolled back %s, written by a commit after %d whose log record the "
        "engine's recovery dropped (the commit never completed)",
        path,
        _names(beyond),
        last,
    )


_UNKNOWN = object()
_BATCH = 512


def _before(backend: "SurrealBackend", rid: Rid, last: int) -> Any:
    """``rid``'s document after the latest commit <= ``last`` that wrote it (None: deleted, or
    never written); ``_UNKNOWN`` when the log that could tell was pruned."""
    cursor, bottom = last, backend._pruned
    while cursor > bottom:
        lo = max(bottom + 1, cursor - _BATCH + 1)
        rows = backend._one(
            f"SELECT * FROM {LOG}:{lo}..={cursor} WHERE k CONTAINS $r ORDER BY id DESC LIMIT 1",
            {"r": rid},
            "repair",
        )
        if rows:
            entry = rows[0]
            for key, doc, op in reversed(list(zip(entry["k"], entry["w"], entry["o"]))):
                if key == rid and op is not None:
                    return None if op == "d" else doc
        cursor = lo - 1
    return None if bottom == 0 else _UNKNOWN


def _torn_log_record(backend: "SurrealBackend", path: str, last: int) -> bool:
    """Whether the last commit's log record names writes its records do not hold (the engine
    kept the log record without the data): then that record is removed and the commit is
    rolled back like one whose log record is missing."""
    entry = backend._one(f"SELECT * FROM ONLY {LOG}:{int(last)}", {}, "open") or {}
    keys, ops = entry.get("k") or [], entry.get("o") or []
    if not keys:
        return False  # written by an earlier version (no keys), or pruned to its anchor
    versions = backend._one(
        "RETURN [" + ", ".join(f"$k{i}._version" for i in range(len(keys))) + "];",
        {f"k{i}": rid for i, rid in enumerate(keys)},
        "open",
    )
    wrong = [
        rid
        for rid, op, version in zip(keys, ops, versions)
        if (op in ("i", "u") and version != last) or (op == "d" and version is not None)
    ]
    if not wrong:
        return False
    if last <= backend._pruned:
        raise CorruptRecordError(
            f"{path} is inconsistent: the change log's last commit ({last}) wrote "
            f"{_names(wrong)}, which do not hold what it wrote. Restore a backup.",
            path,
        )
    backend._query(f"DELETE {LOG}:{int(last)};", {}, "repair")
    log.warning(
        "%s: removed the log record of commit %d, whose writes the engine's "
        "recovery dropped (the commit never completed)",
        path,
        last,
    )
    return True


def _names(rids: list) -> str:
    shown = ", ".join(f"{r.table}:{r.key}" if isinstance(r, Rid) else str(r) for r in rids[:10])
    return shown + (" ..." if len(rids) > 10 else "")
