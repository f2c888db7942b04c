"""The ``surrealdb`` SDK called directly: create/select/merge/query (no index declared)."""

from __future__ import annotations

from typing import Any

from ..data import FILTER_PARAMS, ORDER_FIELD, TABLE, TOP_K
from .base import ALL_OPS, Engine

_WHERE = "status = $s AND priority > $p"
_SDK_CALLS = {
    "get": "select",
    "insert": "create",
    "update": "merge",
    "find": "query",
    "count": "query",
    "tx500": "BEGIN..COMMIT",
}


class SurrealEngine(Engine):
    ops = ALL_OPS
    kind = "surreal"

    def __init__(
        self,
        url: str,
        namespace: str = "conductor_bench",
        database: str = "raw",
        indexed: bool = False,
    ):
        super().__init__()
        self.url, self.ns, self.database, self.indexed = url, namespace, database, indexed
        self.label = "surrealdb SDK" + (" idx" if indexed else "")
        self.db: Any = None

    @property
    def remote(self) -> bool:
        return self.url.startswith(("ws", "http"))

    def describe(self, op: str) -> str:
        return "SDK " + _SDK_CALLS.get(op, "SELECT WHERE") + (" idx" if self.indexed else "")

    def declare_indexes(self, fields: tuple[str, ...]) -> None:
        """``DEFINE INDEX`` on each field: what the SDK's own queries can use (the Store's
        query store declares the same)."""
        if self.indexed:
            for f in fields:
                self.db.query(f"DEFINE INDEX IF NOT EXISTS {TABLE}_{f} ON {TABLE} FIELDS {f}")

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "ns": self.ns, "database": self.database}

    def cold_code(self, probe: str) -> str | None:
        if self.remote:
            return None
        return (
            "import surrealdb\n"
            f"db = surrealdb.BlockingEmbeddedSurrealConnection({self.url!r})\n"
            f"db.connect(); db.use({self.ns!r}, {self.database!r})\n"
            f"d = db.select(surrealdb.RecordID({TABLE!r}, {probe!r}))\n"
        )

    def open(self) -> None:
        import surrealdb

        if self.remote:
            db = _remote(self.url)
        else:
            db = surrealdb.BlockingEmbeddedSurrealConnection(self.url)
            db.connect()
        db.use(self.ns, self.database)
        self.db = db

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def _rid(self, id: str) -> Any:
        from surrealdb import RecordID

        return RecordID(TABLE, id)

    def insert(self, id: str, doc: dict) -> None:
        self.db.create(self._rid(id), doc)

    def get(self, id: str) -> Any:
        return self.db.select(self._rid(id))

    def update(self, id: str, changes: dict) -> None:
        self.db.merge(self._rid(id), changes)

    def _count(self, where: str, params: dict) -> int:
        rows = self.db.query(f"SELECT count() FROM {TABLE}{where} GROUP ALL", params)
        return rows[0]["count"] if rows else 0

    def find(self) -> int:
        sql = f"SELECT * FROM {TABLE} WHERE {_WHERE} ORDER BY id"
        return len(self.db.query(sql, dict(FILTER_PARAMS)))

    def count(self) -> int:
        return self._count(f" WHERE {_WHERE}", dict(FILTER_PARAMS))

    def find_eq(self, status: str) -> int:
        return len(self.db.query(f"SELECT * FROM {TABLE} WHERE status = $s", {"s": status}))

    def count_eq(self, status: str) -> int:
        return self._count(" WHERE status = $s", {"s": status})

    def top(self, desc: bool) -> list[int]:
        order = "DESC" if desc else "ASC"
        rows = self.db.query(f"SELECT * FROM {TABLE} ORDER BY {ORDER_FIELD} {order} LIMIT {TOP_K}")
        return [r[ORDER_FIELD] for r in rows]

    def count_all(self) -> int:
        return self._count("", {})

    def tx(self, items: list[tuple[str, dict]]) -> None:
        parts, params = ["BEGIN TRANSACTION;"], {}
        for k, (id, doc) in enumerate(items):
            parts.append(f"CREATE $r{k} CONTENT $d{k};")
            params[f"r{k}"], params[f"d{k}"] = self._rid(id), doc
        parts.append("COMMIT TRANSACTION;")
        answer = self.db.query_raw("\n".join(parts), params)
        for item in answer.get("result") or []:
            if item.get("status") != "OK":
                raise RuntimeError(f"surrealdb transaction failed: {item.get('result')}")
        if answer.get("error"):
            raise RuntimeError(f"surrealdb transaction failed: {answer['error']}")


class SurrealLoggedEngine(SurrealEngine):
    """The SDK writing what a Store commit must write at the least: the record plus one
    change-log record, in one transaction (the floor under the Store's commit protocol)."""

    ops = frozenset({"insert", "update"})
    kind = "surreal-logged"

    def __init__(self, url: str, namespace: str = "conductor_bench", database: str = "raw"):
        super().__init__(url, namespace, database)
        self.label = "surrealdb SDK + log record"
        self._seq = 0

    def describe(self, op: str) -> str:
        return f"SDK {_SDK_CALLS[op]} + log, 1 tx"

    def _logged(self, statement: str, id: str, doc: dict) -> None:
        self._seq += 1
        sql = f"BEGIN TRANSACTION; {statement}; CREATE $l CONTENT $c; COMMIT TRANSACTION;"
        params = {"r": self._rid(id), "d": doc, "l": self._log_id()}
        params["c"] = {"tb": TABLE, "rid": id, "doc": doc}
        answer = self.db.query_raw(sql, params)
        if answer.get("error") or any(i.get("status") != "OK" for i in answer.get("result") or []):
            raise RuntimeError(f"surrealdb transaction failed: {answer}")

    def _log_id(self) -> Any:
        from surrealdb import RecordID

        return RecordID("bench_log", self._seq)

    def insert(self, id: str, doc: dict) -> None:
        self._logged("CREATE $r CONTENT $d", id, doc)

    def update(self, id: str, changes: dict) -> None:
        self._logged("UPDATE $r MERGE $d", id, changes)


def _remote(url: str) -> Any:
    """An SDK connection to a server URL (parsed as the backend parses it: ``ws_url``)."""
    import surrealdb

    from ...backends.surreal import ws_url

    where = ws_url(url)
    db = surrealdb.Surreal(where.base)
    if where.user:  # the ws connection itself opens on first use
        db.signin({"username": where.user, "password": where.password or ""})
    return db
