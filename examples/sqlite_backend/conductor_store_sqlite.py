"""A conductor-store backend on the standard library's ``sqlite3``: ``sqlite:///path/to/db``.

Written only against conductor-store's public interface, as ``docs/custom-backends.md``
describes. One database file holds every project: ``records`` (one row per record, the document
as JSON text), ``log`` (the change log, one row per changed record) and ``seqs`` (each
project's commit counter). A commit is one ``BEGIN IMMEDIATE`` transaction, which SQLite
serialises across threads and processes; WAL mode and ``synchronous=FULL`` make it durable.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from typing import Any

from conductor_store import (
    Backend,
    BackendUnavailableError,
    Change,
    CommitResult,
    ConflictError,
    NotFoundError,
    Write,
)
from conductor_store.backends import check_options

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    project TEXT, tbl TEXT, id TEXT, doc TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (project, tbl, id));
CREATE TABLE IF NOT EXISTS log (
    project TEXT, seq INTEGER, pos INTEGER, tbl TEXT, id TEXT, op TEXT, doc TEXT, time REAL,
    PRIMARY KEY (project, seq, pos));
CREATE TABLE IF NOT EXISTS seqs (project TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


def _record(id: str, doc: str, version: int) -> dict:
    return {**json.loads(doc), "id": id, "_version": version}


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, url: str, path: str, project: str, timeout: float) -> None:
        self.url, self.project = url, project
        self._lock = threading.Lock()  # one connection, used by one thread at a time
        try:
            self._db = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise BackendUnavailableError(f"cannot open {url}: {exc}") from None

    def _rows(self, sql: str, *args: Any) -> list:
        with self._lock:
            try:
                return self._db.execute(sql, (self.project, *args)).fetchall()
            except sqlite3.Error as exc:
                raise BackendUnavailableError(f"{self.url}: {exc}") from None

    # -- reads ---------------------------------------------------------------------------
    def get(self, table, id):
        rows = self._rows(
            "SELECT doc, version FROM records WHERE project=? AND tbl=? AND id=?", table, id
        )
        return _record(id, *rows[0]) if rows else None

    def scan(self, table):
        rows = self._rows("SELECT id, doc, version FROM records WHERE project=? AND tbl=?", table)
        return [_record(*row) for row in rows]

    def tables(self):
        rows = self._rows("SELECT DISTINCT tbl FROM records WHERE project=? ORDER BY tbl")
        return [tbl for (tbl,) in rows]

    # -- the commit ----------------------------------------------------------------------
    def commit(self, writes: list[Write], checks: dict) -> CommitResult:
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise BackendUnavailableError(f"{self.url}: cannot start a commit: {exc}") from None
            try:
                result = self._commit_in(db, writes, checks)
                db.execute("COMMIT")
                return result
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _version(self, db: sqlite3.Connection, table: str, id: str) -> int | None:
        row = db.execute(
            "SELECT version FROM records WHERE project=? AND tbl=? AND id=?",
            (self.project, table, id),
        ).fetchone()
        return row[0] if row else None

    def _commit_in(self, db: sqlite3.Connection, writes: list[Write], checks: dict):
        for (table, id), expected in checks.items():
            if self._version(db, table, id) != expected:
                raise ConflictError(f"{table}:{id} changed since it was read")
        row = db.execute("SELECT seq FROM seqs WHERE project=?", (self.project,)).fetchone()
        seq = (row[0] if row else 0) + 1
        changes = [self._apply(db, w, seq) for w in writes]  # raises before COMMIT: rollback
        logged = [(i, c) for i, c in enumerate(changes) if c]
        if not logged:
            return CommitResult(None, changes)
        now = time.time()
        db.executemany(
            "INSERT INTO log VALUES (?,?,?,?,?,?,?,?)",
            [
                (self.project, seq, i, c.table, c.id, c.op, json.dumps(c.doc), now)
                for i, c in logged
            ],
        )
        db.execute("INSERT OR REPLACE INTO seqs VALUES (?, ?)", (self.project, seq))
        return CommitResult(seq, [c._replace(time=now) if c else None for c in changes])

    def _apply(self, db: sqlite3.Connection, w: Write, seq: int) -> Change | None:
        key = (self.project, w.table, w.id)
        row = db.execute(
            "SELECT doc, version FROM records WHERE project=? AND tbl=? AND id=?", key
        ).fetchone()
        if w.kind == "delete":
            if row is None:
                return None
            db.execute("DELETE FROM records WHERE project=? AND tbl=? AND id=?", key)
            return Change(seq, w.table, w.id, "delete", None)
        if w.kind == "insert" and row is not None:
            raise ConflictError(f"{w.table}:{w.id} already exists")
        if w.kind == "merge" and row is None:
            raise NotFoundError(f"{w.table}:{w.id} does not exist")
        body = {**json.loads(row[0]), **w.doc} if w.kind == "merge" else dict(w.doc or {})
        version = seq  # a record's version is the number of the commit that last wrote it
        db.execute(
            "INSERT OR REPLACE INTO records VALUES (?,?,?,?,?)", (*key, _dumps(body), version)
        )
        doc = {**body, "id": w.id, "_version": version}
        return Change(seq, w.table, w.id, "update" if row else "insert", doc)

    # -- the change log ------------------------------------------------------------------
    def changes(self, since=0, tables=None, limit=None):
        sql = "SELECT seq, tbl, id, op, doc, time FROM log WHERE project=? AND seq>?"
        args: list = [since]
        if tables is not None:
            sql += f" AND tbl IN ({','.join('?' * len(tables))})"
            args += tables
        sql += " ORDER BY seq, pos" + ("" if limit is None else " LIMIT ?")
        rows = self._rows(sql, *args, *([] if limit is None else [limit]))
        return [Change(seq, tbl, id, op, json.loads(doc), t) for seq, tbl, id, op, doc, t in rows]

    def close(self):
        with self._lock:
            self._db.close()


def _dumps(body: dict) -> str:
    return json.dumps({k: v for k, v in body.items() if k not in ("id", "_version")})


def open_backend(url: str, *, project: str, timeout: float = 30.0, **options) -> SqliteBackend:
    """``sqlite:///absolute/path.db`` or ``sqlite://relative/path.db``."""
    check_options(options, ("timeout",), "the sqlite backend")
    path = url.split("://", 1)[1]
    if not path:
        raise BackendUnavailableError(f"cannot open {url!r}: no path given")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return SqliteBackend(url, path, project, timeout)
