"""sqlite3 in WAL mode, the same rows as a JSON column: the reference most users would pick."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..data import FILTER_PARAMS, ORDER_FIELD, TOP_K
from .base import ALL_OPS, Engine

_WHERE = "json_extract(doc, '$.status') = ? AND json_extract(doc, '$.priority') > ?"
_EQ = "json_extract(doc, '$.status') = ?"
_ORDER = f"json_extract(doc, '$.{ORDER_FIELD}')"


class SqliteEngine(Engine):
    """``(id TEXT PRIMARY KEY, doc TEXT)`` holding JSON; ``indexed``: expression indexes on
    the queried fields (what :meth:`declare_indexes` creates)."""

    ops = ALL_OPS
    kind = "sqlite"

    def __init__(self, path: str, synchronous: str = "FULL", indexed: bool = False):
        super().__init__()
        self.path, self.synchronous, self.indexed = path, synchronous, indexed
        self.label = f"sqlite3 {synchronous}" + (" idx" if indexed else "")
        self.db: sqlite3.Connection | None = None

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "synchronous": self.synchronous}

    def cold_code(self, probe: str) -> str:
        return (
            "import json, sqlite3\n"
            f"c = sqlite3.connect({self.path!r})\n"
            f"row = c.execute('SELECT doc FROM t WHERE id = ?', ({probe!r},))\n"
            "d = json.loads(row.fetchone()[0])\n"
        )

    def open(self) -> None:
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={self.synchronous}")
        self.db.execute("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        if self.indexed:
            self.declare_indexes(("status", ORDER_FIELD))

    def declare_indexes(self, fields: tuple[str, ...]) -> None:
        for f in fields:
            expr = f"json_extract(doc, '$.{f}')"
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS t_{f} ON t ({expr})")

    @property
    def conn(self) -> sqlite3.Connection:
        assert self.db is not None, "engine not open"
        return self.db

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def insert(self, id: str, doc: dict) -> None:
        self.conn.execute("INSERT INTO t (id, doc) VALUES (?, ?)", (id, json.dumps(doc)))

    def get(self, id: str) -> Any:
        row = self.conn.execute("SELECT doc FROM t WHERE id = ?", (id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def update(self, id: str, changes: dict) -> None:
        sql = "UPDATE t SET doc = json_patch(doc, ?) WHERE id = ?"
        if self.conn.execute(sql, (json.dumps(changes), id)).rowcount != 1:
            raise KeyError(id)

    def _docs(self, sql: str, params: tuple) -> list[dict]:
        return [json.loads(r[0]) for r in self.conn.execute(sql, params).fetchall()]

    def find(self) -> int:
        sql = f"SELECT doc FROM t WHERE {_WHERE} ORDER BY id"
        return len(self._docs(sql, (FILTER_PARAMS["s"], FILTER_PARAMS["p"])))

    def count(self) -> int:
        sql = f"SELECT count(*) FROM t WHERE {_WHERE}"
        return self.conn.execute(sql, (FILTER_PARAMS["s"], FILTER_PARAMS["p"])).fetchone()[0]

    def find_eq(self, status: str) -> int:
        return len(self._docs(f"SELECT doc FROM t WHERE {_EQ} ORDER BY id", (status,)))

    def count_eq(self, status: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM t WHERE {_EQ}", (status,)).fetchone()[0]

    def top(self, desc: bool) -> list[int]:
        sql = f"SELECT doc FROM t ORDER BY {_ORDER} {'DESC' if desc else 'ASC'} LIMIT {TOP_K}"
        return [d[ORDER_FIELD] for d in self._docs(sql, ())]

    def count_all(self) -> int:
        return self.conn.execute("SELECT count(*) FROM t").fetchone()[0]

    def tx(self, items: list[tuple[str, dict]]) -> None:
        self.conn.execute("BEGIN")
        try:
            self.conn.executemany(
                "INSERT INTO t (id, doc) VALUES (?, ?)",
                [(id, json.dumps(doc)) for id, doc in items],
            )
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
