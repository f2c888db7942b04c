"""The benchmark engine behind ``conductor-store bench`` and ``benchmarks/`` (pytest-benchmark).

Every figure is a comparison made in one run: the Store doing some work next to the raw engine
underneath it doing the same work, and next to ``sqlite3`` (WAL) as the reference most users
would otherwise pick. Ratios, not absolute times, are what must hold on a noisy machine, so
each round times the references and the Store back to back, and a ratio is the median of the
per-round ratios.

Pieces, each used by both the command and the pytest files (one behaviour, one place):

* engines -- :class:`StoreEngine` and the raw ones (:class:`FilesEngine`, :class:`SurrealEngine`,
  :class:`SqliteEngine`, :class:`TinyEngine`, and the two fixed references :class:`Fsync100Engine`
  and :class:`Files500Engine`), all with the same small interface;
* workloads -- :data:`WORKLOADS`: ``fn(engine, n)`` doing ``n`` operations;
* measurements -- :class:`OpComparison`, :class:`ColdStart`, :class:`HelpStartup`,
  :class:`Concurrency`, :class:`Scaling`: ``prepare()``, then rounds of ``reference_round()`` +
  ``store_round()``, then ``result()``;
* :class:`Session` -- targets, settings, the plan of measurements, the report, the checks;
* rendering -- :func:`render_text` (terminal), :func:`render_markdown` (docs/benchmarks.md).

``python -m conductor_store.bench --write-docs docs/benchmarks.md [--full]`` regenerates the docs.
Heavy engines (``surrealdb``, ``tinydb``) are imported only when benchmarked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .urls import redact_url, split_scheme

TABLE = "bench"
STATUSES = ("todo", "doing", "done", "blocked")
FILTER = "status = :s AND priority > :p"
FILTER_PARAMS = {"s": "todo", "p": 5}
CHUNK = 500  # records per transaction when loading

Progress = Callable[[int, int, str], None]


# ------------------------------------------------------------------------------------------
# documents and ids: the same for every engine
# ------------------------------------------------------------------------------------------
def make_doc(i: int) -> dict:
    """A ~100-byte task record; about 10% of records match :data:`FILTER`."""
    return {
        "title": f"task {i:07d}",
        "status": STATUSES[i % 4],
        "priority": (i * 7) % 10,
        "owner": f"agent-{i % 5}",
        "tags": ["bench", "x"],
    }


def make_id(i: int) -> str:
    return f"r{i:08d}"


def matches(doc: dict) -> bool:
    """:data:`FILTER` in plain Python (what the raw file engine evaluates)."""
    return doc.get("status") == FILTER_PARAMS["s"] and doc.get("priority", 0) > FILTER_PARAMS["p"]


def expected_matches(records: int) -> int:
    return sum(1 for i in range(records) if matches(make_doc(i)))


# ------------------------------------------------------------------------------------------
# engines
# ------------------------------------------------------------------------------------------
class Engine:
    """``n`` operations of one kind on one location. Subclasses set ``label`` and ``ops``."""

    label = "?"
    ops: frozenset = frozenset()

    def __init__(self) -> None:
        self.loaded = 0
        self._next = 0
        self._sample: list[int] = [0]
        self._pos = 0

    # lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self, op: str) -> str:
        """What this engine does for ``op`` (the "raw engine" column)."""
        return self.label

    def spec(self) -> dict:
        """What a worker process needs to open the same location (see :func:`engine_from_spec`)."""
        raise NotImplementedError(f"{self.label} cannot be opened by another process")

    def setup(self, records: int) -> "Engine":
        """Open and load ``records`` records ``r00000000..``; the loaded ids are then sampled
        in the same pseudo-random order by every engine."""
        self.open()
        for start in range(0, records, CHUNK):
            self.load(
                [(make_id(i), make_doc(i)) for i in range(start, min(records, start + CHUNK))]
            )
        self.loaded = self._next = records
        order = list(range(max(records, 1)))
        random.Random(7).shuffle(order)
        self._sample = order
        return self

    def fresh_ids(self, n: int) -> list[int]:
        first, self._next = self._next, self._next + n
        return list(range(first, first + n))

    def sample_ids(self, n: int) -> list[int]:
        out = []
        for _ in range(n):
            out.append(self._sample[self._pos % len(self._sample)])
            self._pos += 1
        return out

    # operations (only those in ``ops`` are called) ----------------------------------------
    def load(self, items: list[tuple[str, dict]]) -> None:
        self.tx(items)

    def insert(self, id: str, doc: dict) -> None:
        raise NotImplementedError

    def get(self, id: str) -> Any:
        raise NotImplementedError

    def update(self, id: str, changes: dict) -> None:
        raise NotImplementedError

    def find(self) -> int:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def count_all(self) -> int:
        raise NotImplementedError

    def tx(self, items: list[tuple[str, dict]]) -> None:
        raise NotImplementedError


class StoreEngine(Engine):
    """The public Store API, exactly as users call it."""

    ops = frozenset({"insert", "get", "update", "find", "count", "tx500"})

    def __init__(self, url: str, project: str, options: dict | None = None, label: str = "Store"):
        super().__init__()
        self.url, self.project, self.options, self.label = url, project, dict(options or {}), label
        self.store = None

    def spec(self) -> dict:
        return {"kind": "store", "url": self.url, "project": self.project, "options": self.options}

    def open(self) -> None:
        import conductor_store

        self.store = conductor_store.open(self.url, project=self.project, **self.options)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def insert(self, id, doc):
        self.store.insert(TABLE, doc, id=id)

    def get(self, id):
        return self.store.get(TABLE, id)

    def update(self, id, changes):
        self.store.update(TABLE, id, changes)

    def find(self):
        return len(self.store.find(TABLE, FILTER, params=FILTER_PARAMS))

    def count(self):
        return self.store.count(TABLE, FILTER, params=FILTER_PARAMS)

    def count_all(self):
        return self.store.count(TABLE)

    def tx(self, items):
        with self.store.transaction() as tx:
            for id, doc in items:
                tx.insert(TABLE, doc, id=id)


class FilesEngine(Engine):
    """One JSON file per record: write to a temp file (+ fsync when durable) and rename."""

    ops = frozenset({"insert", "get", "update", "find", "count", "tx500"})

    def __init__(self, directory: str, fsync: bool = True):
        super().__init__()
        self.dir, self.fsync = directory, fsync
        self.label = "files write+fsync+rename" if fsync else "files write+rename"

    def describe(self, op: str) -> str:
        if op == "get":
            return "file: open+read+json.loads"
        if op in ("find", "count"):
            return "files: read+parse all, filter"
        return "file: write+fsync+rename" if self.fsync else "file: write+rename"

    def spec(self) -> dict:
        return {"kind": "files", "dir": self.dir, "fsync": self.fsync}

    def open(self) -> None:
        os.makedirs(self.dir, exist_ok=True)

    def _write(self, id: str, doc: dict, fsync: bool) -> None:
        path = os.path.join(self.dir, id + ".json")
        tmp = os.path.join(self.dir, f".{id}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(json.dumps(doc, separators=(",", ":")).encode())
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)

    def load(self, items):
        for id, doc in items:
            self._write(id, doc, False)

    def insert(self, id, doc):
        self._write(id, doc, self.fsync)

    def get(self, id):
        with open(os.path.join(self.dir, id + ".json"), "rb") as f:
            return json.loads(f.read())

    def update(self, id, changes):
        doc = self.get(id)
        doc.update(changes)
        self._write(id, doc, self.fsync)

    def _scan(self) -> Iterable[tuple[str, dict]]:
        for name in os.listdir(self.dir):
            if name.endswith(".json"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    yield name, json.loads(f.read())

    def find(self):
        return len(sorted((name, doc) for name, doc in self._scan() if matches(doc)))

    def count(self):
        return sum(1 for _, doc in self._scan() if matches(doc))

    def count_all(self):
        return sum(1 for name in os.listdir(self.dir) if name.endswith(".json"))

    def tx(self, items):
        for id, doc in items:
            self._write(id, doc, self.fsync)


class Fsync100Engine(Engine):
    """The floor of a durable commit: append 100 bytes to an open file and fsync it."""

    label = "100 B write+fsync"
    ops = frozenset({"insert"})
    PAYLOAD = b"x" * 99 + b"\n"

    def __init__(self, directory: str):
        super().__init__()
        self.dir, self.fd = directory, None

    def open(self):
        os.makedirs(self.dir, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self.fd = os.open(os.path.join(self.dir, "fsync100.log"), flags, 0o644)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def load(self, items):
        pass

    def insert(self, id, doc):
        os.write(self.fd, self.PAYLOAD)
        os.fsync(self.fd)


class Files500Engine(Engine):
    """Creating one small file per record (open, write, close), no fsync."""

    label = "small files, no fsync"
    ops = frozenset({"tx500"})

    def __init__(self, directory: str):
        super().__init__()
        self.dir = directory

    def open(self):
        os.makedirs(self.dir, exist_ok=True)

    def load(self, items):
        pass

    def tx(self, items):
        for id, doc in items:
            with open(os.path.join(self.dir, id + ".json"), "w") as f:
                f.write(json.dumps(doc))


class SqliteEngine(Engine):
    """sqlite3 in WAL mode: ``(id TEXT PRIMARY KEY, doc TEXT)`` holding JSON."""

    ops = frozenset({"insert", "get", "update", "find", "count", "tx500"})

    def __init__(self, path: str, synchronous: str = "FULL"):
        super().__init__()
        self.path, self.synchronous = path, synchronous
        self.label = f"sqlite3 WAL sync={synchronous}"
        self.db = None

    def spec(self) -> dict:
        return {"kind": "sqlite", "path": self.path, "synchronous": self.synchronous}

    def open(self):
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={self.synchronous}")
        self.db.execute("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    def insert(self, id, doc):
        self.db.execute("INSERT INTO t (id, doc) VALUES (?, ?)", (id, json.dumps(doc)))

    def get(self, id):
        row = self.db.execute("SELECT doc FROM t WHERE id = ?", (id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def update(self, id, changes):
        cur = self.db.execute(
            "UPDATE t SET doc = json_patch(doc, ?) WHERE id = ?", (json.dumps(changes), id)
        )
        if cur.rowcount != 1:
            raise KeyError(id)

    _WHERE = "json_extract(doc, '$.status') = ? AND json_extract(doc, '$.priority') > ?"

    def find(self):
        rows = self.db.execute(
            f"SELECT doc FROM t WHERE {self._WHERE} ORDER BY id",
            (FILTER_PARAMS["s"], FILTER_PARAMS["p"]),
        ).fetchall()
        return len([json.loads(r[0]) for r in rows])

    def count(self):
        return self.db.execute(
            f"SELECT count(*) FROM t WHERE {self._WHERE}", (FILTER_PARAMS["s"], FILTER_PARAMS["p"])
        ).fetchone()[0]

    def count_all(self):
        return self.db.execute("SELECT count(*) FROM t").fetchone()[0]

    def tx(self, items):
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                "INSERT INTO t (id, doc) VALUES (?, ?)",
                [(id, json.dumps(doc)) for id, doc in items],
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


class SurrealEngine(Engine):
    """The ``surrealdb`` SDK called directly: create/select/merge/query."""

    ops = frozenset({"insert", "get", "update", "find", "count", "tx500"})

    def __init__(self, url: str, namespace: str = "conductor_bench", database: str = "raw"):
        super().__init__()
        self.url, self.ns, self.database = url, namespace, database
        self.label = "surrealdb SDK"
        self.db = None

    def describe(self, op: str) -> str:
        return "SDK " + {
            "get": "select",
            "insert": "create",
            "update": "merge",
            "find": "query",
            "count": "query",
            "tx500": "BEGIN..COMMIT query",
        }.get(op, op)

    def spec(self) -> dict:
        return {"kind": "surreal", "url": self.url, "ns": self.ns, "database": self.database}

    def open(self):
        from urllib.parse import unquote, urlsplit

        import surrealdb

        parts = urlsplit(self.url)
        if parts.scheme in ("ws", "wss", "http", "https"):
            host = parts.hostname or "localhost"
            path = (parts.path or "").rstrip("/")
            path = path[: -len("/rpc")] if path.endswith("/rpc") else path
            port = f":{parts.port}" if parts.port else ""
            db = surrealdb.Surreal(f"{parts.scheme}://{host}{port}{path}")
            if parts.username:  # the ws connection itself opens on first use
                db.signin(
                    {"username": unquote(parts.username), "password": unquote(parts.password or "")}
                )
        else:
            db = surrealdb.BlockingEmbeddedSurrealConnection(self.url)
            db.connect()
        db.use(self.ns, self.database)
        self.db = db

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    def _rid(self, id):
        from surrealdb import RecordID

        return RecordID(TABLE, id)

    def insert(self, id, doc):
        self.db.create(self._rid(id), doc)

    def get(self, id):
        return self.db.select(self._rid(id))

    def update(self, id, changes):
        self.db.merge(self._rid(id), changes)

    _WHERE = "status = $s AND priority > $p"

    def find(self):
        sql = f"SELECT * FROM {TABLE} WHERE {self._WHERE} ORDER BY id"
        return len(self.db.query(sql, dict(FILTER_PARAMS)))

    def count(self):
        sql = f"SELECT count() FROM {TABLE} WHERE {self._WHERE} GROUP ALL"
        rows = self.db.query(sql, dict(FILTER_PARAMS))
        return rows[0]["count"] if rows else 0

    def count_all(self):
        rows = self.db.query(f"SELECT count() FROM {TABLE} GROUP ALL")
        return rows[0]["count"] if rows else 0

    def tx(self, items):
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


class TinyEngine(Engine):
    """TinyDB with its default JSON storage (the whole file rewritten on every insert)."""

    label = "TinyDB"
    ops = frozenset({"insert"})

    def __init__(self, path: str):
        super().__init__()
        self.path, self.db = path, None

    def open(self):
        from tinydb import TinyDB

        self.db = TinyDB(self.path)

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    def load(self, items):
        self.db.insert_multiple([{**doc, "id": id} for id, doc in items])

    def insert(self, id, doc):
        self.db.insert({**doc, "id": id})


def engine_from_spec(spec: dict) -> Engine:
    kind = spec["kind"]
    if kind == "store":
        return StoreEngine(spec["url"], spec["project"], spec.get("options"))
    if kind == "files":
        return FilesEngine(spec["dir"], spec["fsync"])
    if kind == "sqlite":
        return SqliteEngine(spec["path"], spec["synchronous"])
    if kind == "surreal":
        return SurrealEngine(spec["url"], spec["ns"], spec["database"])
    raise ValueError(f"unknown engine kind {kind!r}")


def tinydb_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tinydb") is not None


# ------------------------------------------------------------------------------------------
# workloads: fn(engine, n) does n operations
# ------------------------------------------------------------------------------------------
def w_insert(eng: Engine, n: int) -> None:
    for i in eng.fresh_ids(n):
        eng.insert(make_id(i), make_doc(i))


def w_get(eng: Engine, n: int) -> None:
    for i in eng.sample_ids(n):
        eng.get(make_id(i))


def w_update(eng: Engine, n: int) -> None:
    for k, i in enumerate(eng.sample_ids(n)):
        eng.update(make_id(i), {"owner": f"agent-{k % 7}", "note": "touched"})


def w_find(eng: Engine, n: int) -> None:
    for _ in range(n):
        eng.find()


def w_count(eng: Engine, n: int) -> None:
    for _ in range(n):
        eng.count()


def w_tx500(eng: Engine, n: int) -> None:
    eng.tx([(make_id(i), make_doc(i)) for i in eng.fresh_ids(n)])


WORKLOADS: dict[str, Callable[[Engine, int], None]] = {
    "get": w_get,
    "find": w_find,
    "count": w_count,
    "update": w_update,
    "insert": w_insert,
    "tx500": w_tx500,
}
READ_OPS = ("get", "find", "count")
WRITE_OPS = ("update", "insert", "tx500")
UNITS = {
    "get": "ops/s",
    "find": "queries/s",
    "count": "queries/s",
    "update": "ops/s",
    "insert": "ops/s",
    "tx500": "records/s",
}
OP_TITLES = {
    "get": "get by id",
    "find": "find with filter",
    "count": "count with filter",
    "update": "update (merge)",
    "insert": "single insert (commit)",
    "tx500": "500-record transaction",
}


def warm_up(eng: Engine, op: str, n: int) -> float | None:
    """One untimed round; for ``get`` a pass over every loaded record, so that the timed
    rounds see the steady state (caches filled) -- the pass's own rate is returned: the
    first read of each record since open (cache misses)."""
    if op != "get":
        WORKLOADS[op](eng, n)
        return None
    count = max(eng.loaded, 1)
    t0 = time.perf_counter()
    w_get(eng, count)
    return count / (time.perf_counter() - t0)


def verify(eng: Engine, op: str, records: int) -> None:
    """Refuse to time an engine that answers wrongly (a fast wrong answer is no benchmark)."""
    if op == "get":
        doc = eng.get(make_id(eng.sample_ids(1)[0]))
        eng._pos = 0
        if not doc:
            raise AssertionError(f"{eng.label}: get of a loaded record returned {doc!r}")
    elif op == "find":
        got, want = eng.find(), expected_matches(records)
        if got != want:
            raise AssertionError(f"{eng.label}: find returned {got} records, expected {want}")
    elif op == "count":
        got, want = eng.count(), expected_matches(records)
        if got != want:
            raise AssertionError(f"{eng.label}: count returned {got}, expected {want}")


# ------------------------------------------------------------------------------------------
# targets: the backends under test
# ------------------------------------------------------------------------------------------
@dataclass
class Target:
    """A backend configuration to benchmark. ``url`` None: a fresh location is made per use
    under the session's temporary directory; otherwise every use gets its own project there."""

    name: str
    scheme: str
    family: str  # json | json-nosync | surreal-embedded | surreal-remote | custom
    url: str | None = None
    options: dict = field(default_factory=dict)
    durable: bool = True
    multiprocess: bool = True
    persistent: bool = True
    description: str = ""

    @property
    def shown_url(self) -> str:
        return redact_url(self.url) if self.url else f"{self.scheme}://<temp>"


def builtin_targets() -> list[Target]:
    return [
        Target(
            "json",
            "json",
            "json",
            options={"durable": True},
            description="JSON files, durable=True",
        ),
        Target(
            "json-nosync",
            "json",
            "json-nosync",
            options={"durable": False},
            durable=False,
            description="JSON files, durable=False",
        ),
        Target(
            "surrealdb-mem",
            "mem",
            "surreal-embedded",
            durable=False,
            multiprocess=False,
            persistent=False,
            description="embedded SurrealDB in memory (mem://)",
        ),
        Target(
            "surrealkv",
            "surrealkv",
            "surreal-embedded",
            multiprocess=False,
            description="embedded SurrealDB on disk (surrealkv://)",
        ),
    ]


def target_from_url(url: str) -> Target:
    """A target for a URL given on the command line (any registered scheme)."""
    scheme, rest = split_scheme(url)
    name = redact_url(url)
    if scheme == "json":
        return Target(name, "json", "json", url=url, description="JSON files at the given path")
    if scheme in ("mem", "memory"):
        return Target(
            name,
            scheme,
            "surreal-embedded",
            url=url,
            durable=False,
            multiprocess=False,
            persistent=False,
            description="embedded SurrealDB in memory",
        )
    if scheme in ("surrealkv", "file"):
        return Target(
            name,
            scheme,
            "surreal-embedded",
            url=url,
            multiprocess=False,
            description="embedded SurrealDB on disk",
        )
    if scheme in ("ws", "wss", "http", "https"):
        return Target(name, scheme, "surreal-remote", url=url, description="remote SurrealDB")
    return Target(name, scheme, "custom", url=url, description=f"custom backend ({scheme}://)")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "x"


# ------------------------------------------------------------------------------------------
# settings
# ------------------------------------------------------------------------------------------
@dataclass
class Settings:
    records: int = 2000
    rounds: int = 9
    n: dict = field(
        default_factory=lambda: {
            "get": 200,
            "find": 3,
            "count": 3,
            "update": 20,
            "insert": 20,
            "tx500": 500,
        }
    )
    tx_rounds: int = 5
    scales: tuple = (1000, 10000)
    scale_rounds: int = 5
    scale_n: dict = field(
        default_factory=lambda: {"get": 200, "insert": 20, "update": 20, "find": 1, "count": 1}
    )
    cold_runs: int = 7
    procs: tuple = (1, 2, 4)
    per_proc: int = 60
    quick: bool = False
    full: bool = False

    @classmethod
    def make(
        cls, *, records: int | None = None, quick: bool = False, full: bool = False
    ) -> "Settings":
        if quick:
            r = records or 200
            s = cls(
                records=r,
                rounds=3,
                tx_rounds=1,
                scales=(r, 10 * r),
                scale_rounds=3,
                cold_runs=2,
                procs=(1, 2),
                per_proc=10,
                quick=True,
                full=full,
                n={"get": 100, "find": 2, "count": 2, "update": 8, "insert": 8, "tx500": 500},
                scale_n={"get": 50, "insert": 10, "update": 10, "find": 1, "count": 1},
            )
        else:
            s = cls(records=records or 2000, full=full)
        if full:
            s.scales = tuple(s.scales) + (100 * s.scales[0],)
        return s


# ------------------------------------------------------------------------------------------
# measurements
# ------------------------------------------------------------------------------------------
def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _rate(n: int, seconds: float | None) -> float | None:
    return None if not seconds else n / seconds


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _paired_ratio(store_times: list[float], ref_times: list[float]) -> float | None:
    """Store speed / reference speed as the median of per-round ratios: each round times the
    reference and the Store back to back, so a slow spell of a noisy disk hits both."""
    pairs = [r / s for s, r in zip(store_times, ref_times) if s > 0]
    return statistics.median(pairs) if pairs else None


def _short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) < 300 else text[:297] + "..."


class Measurement:
    """``prepare()``; ``rounds`` × (``reference_round()``, ``store_round()``); ``result()``.

    The pytest files pass ``store_round`` to ``benchmark.pedantic`` with ``reference_round`` as
    its per-round setup, so the references run interleaved with the Store there too."""

    rounds = 1
    label = "?"

    def prepare(self) -> None:
        pass

    def reference_round(self) -> None:
        pass

    def store_round(self) -> None:
        raise NotImplementedError

    def result(self) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def run(self) -> dict:
        self.prepare()
        for _ in range(self.rounds):
            self.reference_round()
            self.store_round()
        return self.result()


class EngineSet:
    """The Store and its references for one target, loaded with the same records."""

    def __init__(self, session: "Session", target: Target, group: str, with_extras: bool):
        self.session, self.target, self.group = session, target, group
        self.store: Engine | None = None
        self.refs: dict[str, Engine] = {}
        self.errors: dict[str, str] = {}
        records = session.settings.records
        self.store = session.store_engine(target, f"{group}")
        for name, eng in session.reference_engines(target, group, with_extras).items():
            self.refs[name] = eng
        for name, eng in [("store", self.store), *self.refs.items()]:
            try:
                eng.setup(0 if name in ("fsync100", "files500") else records)
            except Exception as exc:  # noqa: BLE001 -- reported, the run goes on
                self.errors[name] = _short_error(exc)
        for name in list(self.refs):
            if name in self.errors:
                self.refs.pop(name).close()

    def close(self) -> None:
        for eng in [self.store, *self.refs.values()]:
            try:
                if eng is not None:
                    eng.close()
            except Exception:  # noqa: BLE001
                pass


class OpComparison(Measurement):
    """One operation on the Store beside the raw engine, sqlite3 and any extra reference."""

    def __init__(self, session: "Session", target: Target, op: str):
        self.session, self.target, self.op = session, target, op
        st = session.settings
        self.n = st.n[op]
        self.rounds = st.tx_rounds if op == "tx500" else st.rounds
        self.label = f"{target.name}: {OP_TITLES[op]}"
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, str] = {}
        self.engines: EngineSet | None = None
        self.fn = WORKLOADS[op]
        self.first_pass: dict[str, float] = {}

    def prepare(self) -> None:
        self.engines = self.session.engine_set(
            self.target, "read" if self.op in READ_OPS else "write"
        )
        self.errors.update(self.engines.errors)
        active = {}
        for name, eng in [("store", self.engines.store), *self.engines.refs.items()]:
            if self.op not in eng.ops or name in self.engines.errors:
                continue
            try:
                verify(eng, self.op, self.session.settings.records)
                first = warm_up(eng, self.op, self.n // 5 if self.op == "tx500" else self.n)
                if first is not None:
                    self.first_pass[name] = first
                active[name] = eng
            except Exception as exc:  # noqa: BLE001
                self.errors[name] = _short_error(exc)
        self.active = active
        self.times = {name: [] for name in active}

    def _time(self, name: str) -> None:
        eng = self.active.get(name)
        if eng is None:
            return
        try:
            t0 = time.perf_counter()
            self.fn(eng, self.n)
            self.times[name].append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001
            self.errors[name] = _short_error(exc)
            del self.active[name]

    # the reference a check compares with runs last, right before the Store's round
    _ORDER = {"raw": 0, "sqlite": 1, "tinydb": 2}

    def reference_round(self) -> None:
        for name in sorted(self.active, key=lambda n: self._ORDER.get(n, 3)):
            if name != "store":
                self._time(name)

    def store_round(self) -> None:
        self._time("store")

    def result(self) -> dict:
        rates = {name: _rate(self.n, _median(ts)) for name, ts in self.times.items()}
        refs = self.engines.refs if self.engines else {}
        store = rates.get("store")
        raw, sql = rates.get("raw"), rates.get("sqlite")
        st = self.times.get("store", [])
        ratio = {name: _paired_ratio(st, ts) for name, ts in self.times.items() if name != "store"}
        return {
            "target": self.target.name,
            "family": self.target.family,
            "op": self.op,
            "title": OP_TITLES[self.op],
            "records": self.session.settings.records,
            "n": self.n,
            "rounds": self.rounds,
            "unit": UNITS[self.op],
            "store": store,
            "raw_engine": refs["raw"].describe(self.op) if "raw" in refs else None,
            "raw": raw,
            "ratio": ratio.get("raw"),
            "sqlite": sql,
            "vs_sqlite": ratio.get("sqlite"),
            "refs": {
                name: {"label": refs[name].label, "rate": rate, "ratio": ratio.get(name)}
                for name, rate in rates.items()
                if name not in ("store", "raw", "sqlite")
            },
            # get only: the untimed warm-up pass, the first read of every record since open
            "first_pass": None
            if not self.first_pass
            else {
                "store": self.first_pass.get("store"),
                "raw": self.first_pass.get("raw"),
                "sqlite": self.first_pass.get("sqlite"),
                "ratio": _ratio(self.first_pass.get("store"), self.first_pass.get("raw")),
                "vs_sqlite": _ratio(self.first_pass.get("store"), self.first_pass.get("sqlite")),
            },
            "errors": dict(self.errors),
        }


def child_env(root: str, **extra: str | None) -> dict:
    """The environment of the processes the harness starts: bytecode caching on, as users have
    it (``PYTHONDONTWRITEBYTECODE`` would make every cold start compile the package from
    source), cached in a private directory so the source tree is left alone. URLs and jobs go
    through the environment, not the command line, so that no password shows in ``ps``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(root, "pycache")
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def _run_python(code: str, cwd: str, timeout: float = 120, url: str | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(cwd, CONDUCTOR_BENCH_URL=url),
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"exit {proc.returncode}: {tail[0]}")
    return elapsed


class ColdStart(Measurement):
    """New process: ``import conductor_store``, open, first ``get`` -- beside the raw engine's
    own cold read and a bare ``python -c pass``. Wall time of the whole process."""

    def __init__(self, session: "Session", target: Target):
        self.session, self.target = session, target
        self.rounds = session.settings.cold_runs
        self.label = f"{target.name}: cold start"
        self.times: dict[str, list[float]] = {"store": [], "raw": [], "sqlite": [], "python": []}
        self.codes: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.raw_label = None
        self.store_url: str | None = None

    def prepare(self) -> None:
        s, t = self.session, self.target
        records = s.settings.records
        store = s.store_engine(t, "cold")
        probe = make_id(records // 2)
        try:
            store.setup(records)
            store.close()
            self.store_url = store.url  # passed in the environment: never on a command line
            self.codes["store"] = (
                "import os, conductor_store as cs\n"
                f"s = cs.open(os.environ['CONDUCTOR_BENCH_URL'], project={store.project!r}, "
                f"**{store.options!r})\n"
                f"d = s.get({TABLE!r}, {probe!r})\n"
                + ("assert d is not None, 'record not found'\n" if t.persistent else "")
            )
        except Exception as exc:  # noqa: BLE001
            self.errors["store"] = _short_error(exc)
        raw = s.reference_engines(t, "cold", with_extras=False)
        for name, eng in raw.items():
            try:
                eng.setup(records)
                eng.close()
            except Exception as exc:  # noqa: BLE001
                self.errors[name] = _short_error(exc)
                continue
            if isinstance(eng, FilesEngine):
                self.codes[name] = (
                    "import json\n"
                    f"with open({os.path.join(eng.dir, probe + '.json')!r}, 'rb') as f:\n"
                    "    d = json.loads(f.read())\n"
                )
            elif isinstance(eng, SqliteEngine):
                self.codes[name] = (
                    "import json, sqlite3\n"
                    f"c = sqlite3.connect({eng.path!r})\n"
                    f"row = c.execute('SELECT doc FROM t WHERE id = ?', ({probe!r},))\n"
                    "d = json.loads(row.fetchone()[0])\n"
                )
            elif isinstance(eng, SurrealEngine) and not eng.url.startswith(("ws", "http")):
                self.codes[name] = (
                    "import surrealdb\n"
                    f"db = surrealdb.BlockingEmbeddedSurrealConnection({eng.url!r})\n"
                    f"db.connect(); db.use({eng.ns!r}, {eng.database!r})\n"
                    f"d = db.select(surrealdb.RecordID({TABLE!r}, {probe!r}))\n"
                )
            if name == "raw":
                self.raw_label = eng.describe("get")
        self.codes["python"] = "pass"
        for name, code in list(self.codes.items()):  # one untimed warm-up run (caches)
            try:
                _run_python(code, s.root, url=self.store_url)
            except Exception as exc:  # noqa: BLE001
                self.errors[name] = _short_error(exc)
                del self.codes[name]

    def _time(self, name: str) -> None:
        code = self.codes.get(name)
        if code is None:
            return
        try:
            self.times[name].append(_run_python(code, self.session.root, url=self.store_url))
        except Exception as exc:  # noqa: BLE001
            self.errors[name] = _short_error(exc)
            del self.codes[name]

    def reference_round(self) -> None:
        for name in ("python", "raw", "sqlite"):
            self._time(name)

    def store_round(self) -> None:
        self._time("store")

    def result(self) -> dict:
        ms = {
            name: (None if not ts else 1000 * statistics.median(ts))
            for name, ts in self.times.items()
        }
        return {
            "target": self.target.name,
            "family": self.target.family,
            "what": "import conductor_store + open + first get (fresh process)",
            "records": self.session.settings.records,
            "runs": self.rounds,
            "store_ms": ms["store"],
            "raw_engine": self.raw_label,
            "raw_ms": ms["raw"],
            "ratio": _paired_ratio(
                self.times["store"], self.times["raw"]
            ),  # speed: raw time / store time
            "sqlite_ms": ms["sqlite"],
            "python_ms": ms["python"],
            "errors": dict(self.errors),
        }


def help_command() -> list[str]:
    """The installed ``conductor-store`` console script next to this interpreter."""
    exe = Path(sys.executable).parent / (
        "conductor-store.exe" if os.name == "nt" else "conductor-store"
    )
    if exe.exists():
        return [str(exe), "--help"]
    found = shutil.which("conductor-store")
    if found:
        return [found, "--help"]
    return [sys.executable, "-m", "conductor_store.cli", "--help"]


class HelpStartup(Measurement):
    """``conductor-store --help`` in a new process, beside ``python -c pass``."""

    def __init__(self, session: "Session"):
        self.session = session
        self.rounds = session.settings.cold_runs
        self.label = "conductor-store --help"
        self.cmd = help_command()
        self.times: dict[str, list[float]] = {"store": [], "python": []}
        self.errors: dict[str, str] = {}

    def _run(self, cmd: list[str]) -> float:
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd,
            cwd=self.session.root,
            capture_output=True,
            timeout=60,
            env=child_env(self.session.root),
        )
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(
                f"exit {proc.returncode}: {proc.stderr.decode(errors='replace')[-200:]}"
            )
        return elapsed

    def prepare(self) -> None:
        try:
            self._run(self.cmd)
        except Exception as exc:  # noqa: BLE001
            self.errors["store"] = _short_error(exc)

    def reference_round(self) -> None:
        self.times["python"].append(self._run([sys.executable, "-c", "pass"]))

    def store_round(self) -> None:
        if "store" in self.errors:
            return
        try:
            self.times["store"].append(self._run(self.cmd))
        except Exception as exc:  # noqa: BLE001
            self.errors["store"] = _short_error(exc)

    def result(self) -> dict:
        ms = {
            name: (None if not ts else 1000 * statistics.median(ts))
            for name, ts in self.times.items()
        }
        cmd = self.cmd[0] if self.cmd[0] != sys.executable else "python -m conductor_store.cli"
        return {
            "target": "cli",
            "what": "conductor-store --help (fresh process)",
            "command": os.path.basename(cmd) + " --help",
            "runs": self.rounds,
            "store_ms": ms["store"],
            "python_ms": ms["python"],
            "errors": dict(self.errors),
        }


class Concurrency(Measurement):
    """``procs`` processes each doing ``per_proc`` single inserts into one location, started
    together (each opens first, then all get "go"); total ops/s over the common interval."""

    def __init__(self, session: "Session", target: Target, procs: int):
        self.session, self.target, self.procs = session, target, procs
        self.per_proc = session.settings.per_proc
        self.rounds = 1
        self.label = f"{target.name}: {procs} concurrent writer{'s' if procs > 1 else ''}"
        self.specs: dict[str, dict] = {}
        self.labels: dict[str, str] = {}
        self.rates: dict[str, list[float]] = {}
        self.errors: dict[str, str] = {}
        self.verified: dict[str, bool] = {}
        self.done: dict[str, int] = {}

    def prepare(self) -> None:
        s, t = self.session, self.target
        engines = {"store": s.store_engine(t, f"conc{self.procs}")}
        engines.update(s.reference_engines(t, f"conc{self.procs}", with_extras=False))
        for name, eng in engines.items():
            try:
                eng.setup(0)
                eng.close()
                self.specs[name] = eng.spec()
                self.labels[name] = eng.describe("insert")
                self.rates[name] = []
                self.done[name] = 0
            except Exception as exc:  # noqa: BLE001
                self.errors[name] = _short_error(exc)

    def _round(self, name: str) -> None:
        spec = self.specs.get(name)
        if spec is None:
            return
        try:
            rate = run_writers(
                spec, self.procs, self.per_proc, prefix=f"c{self.done[name]}", cwd=self.session.root
            )
            self.rates[name].append(rate)
            self.done[name] += self.procs * self.per_proc
        except Exception as exc:  # noqa: BLE001
            self.errors[name] = _short_error(exc)
            del self.specs[name]

    def reference_round(self) -> None:
        for name in list(self.specs):
            if name != "store":
                self._round(name)

    def store_round(self) -> None:
        self._round("store")

    def _verify(self) -> None:
        for name, spec in self.specs.items():
            try:
                eng = engine_from_spec(spec)
                eng.open()
                try:
                    self.verified[name] = eng.count_all() == self.done[name]
                    if not self.verified[name]:
                        found = eng.count_all()
                        self.errors[name] = (
                            f"lost writes: {found} records, {self.done[name]} written"
                        )
                finally:
                    eng.close()
            except Exception as exc:  # noqa: BLE001
                self.errors.setdefault(name, "verify: " + _short_error(exc))

    def result(self) -> dict:
        self._verify()
        rate = {name: _median(r) for name, r in self.rates.items()}
        store, raw, sql = rate.get("store"), rate.get("raw"), rate.get("sqlite")
        st = [1 / r for r in self.rates.get("store", [])]
        ratio = {name: _paired_ratio(st, [1 / r for r in rs]) for name, rs in self.rates.items()}
        return {
            "target": self.target.name,
            "family": self.target.family,
            "procs": self.procs,
            "per_proc": self.per_proc,
            "store": store,
            "raw_engine": self.labels.get("raw"),
            "raw": raw,
            "ratio": ratio.get("raw"),
            "sqlite": sql,
            "vs_sqlite": ratio.get("sqlite"),
            "verified": dict(self.verified),
            "errors": dict(self.errors),
        }


def run_writers(
    spec: dict, procs: int, per_proc: int, prefix: str, cwd: str, timeout: float = 120
) -> float:
    """Start ``procs`` worker processes on ``spec``; once all have opened, let them insert
    ``per_proc`` records each; return total inserts per second over the common interval."""
    workers = []
    try:
        for k in range(procs):
            job = dict(spec, prefix=f"{prefix}w{k}", m=per_proc)
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "conductor_store.bench", "--worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=cwd,
                    env=child_env(cwd, CONDUCTOR_BENCH_JOB=json.dumps(job)),
                )
            )
        deadline = time.monotonic() + timeout
        for w in workers:
            line = w.stdout.readline()
            if line.strip() != "ready":
                w.wait(timeout=max(1.0, deadline - time.monotonic()))
                raise RuntimeError(f"worker failed to open: {_last_line(w.stderr.read() or line)}")
        for w in workers:
            w.stdin.write("go\n")
            w.stdin.flush()
        spans = []
        for w in workers:
            out, err = w.communicate(timeout=max(1.0, deadline - time.monotonic()))
            if w.returncode != 0:
                raise RuntimeError(f"worker exit {w.returncode}: {_last_line(err)}")
            spans.append(json.loads(out.strip().splitlines()[-1]))
        elapsed = max(s["t1"] for s in spans) - min(s["t0"] for s in spans)
        return procs * per_proc / elapsed
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()


def _last_line(text: str) -> str:
    lines = [x for x in (text or "").strip().splitlines() if x.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _worker(job: dict) -> None:
    eng = engine_from_spec(job)
    eng.open()
    print("ready", flush=True)
    sys.stdin.readline()
    prefix, m = job["prefix"], job["m"]
    t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    for i in range(m):
        eng.insert(f"{prefix}-{i:06d}", make_doc(i))
    t1 = time.perf_counter()
    eng.close()
    print(json.dumps({"t0": t0, "t1": t1}), flush=True)


class Scaling(Measurement):
    """The Store alone at every size of ``settings.scales`` (µs per operation). Rounds
    alternate between the sizes, and growth is the median of per-round ratios, so a busy spell
    of the machine does not pass for growth. The largest size is the "store" round (what
    pytest-benchmark times); the smaller ones run as the per-round setup."""

    OPS = ("get", "find", "count", "update", "insert")

    def __init__(self, session: "Session", target: Target, op: str):
        self.session, self.target, self.op = session, target, op
        self.scales = list(session.settings.scales)
        self.n = session.settings.scale_n[op]
        # scans: more queries at the smaller sizes (up to 10×), so every round is long enough
        # to time well; costs are per operation all the same
        self.ns = {
            x: self.n * (min(10, self.scales[-1] // x) if op in ("find", "count") else 1)
            for x in self.scales
        }
        self.rounds = session.settings.scale_rounds
        self.label = f"{target.name}: {op} at {', '.join(f'{x:,}' for x in self.scales)} records"
        self.times: dict[int, list[float]] = {x: [] for x in self.scales}
        self.errors: dict[str, str] = {}
        self.engs: dict[int, Engine] = {}

    def prepare(self) -> None:
        for scale in self.scales:
            try:
                eng = self.session.scale_engine(self.target, scale)
                if self.op != "count":
                    verify(eng, self.op, scale)
                warm_up(eng, self.op, self.ns[scale])
                self.engs[scale] = eng
            except Exception as exc:  # noqa: BLE001
                self.errors[f"{scale}"] = _short_error(exc)

    def _time(self, scale: int) -> None:
        eng = self.engs.get(scale)
        if eng is None:
            return
        try:
            t0 = time.perf_counter()
            WORKLOADS[self.op](eng, self.ns[scale])
            self.times[scale].append((time.perf_counter() - t0) / self.ns[scale])  # per operation
        except Exception as exc:  # noqa: BLE001
            self.errors[f"{scale}"] = _short_error(exc)
            del self.engs[scale]

    def reference_round(self) -> None:
        for scale in self.scales[:-1]:
            self._time(scale)

    def store_round(self) -> None:
        self._time(self.scales[-1])

    def result(self) -> dict:
        costs = []
        for scale in self.scales:
            med = _median(self.times[scale])
            costs.append(
                {
                    "records": scale,
                    "ops_per_round": self.ns[scale],
                    "us_per_op": None if med is None else 1e6 * med,
                }
            )
        growth = []
        for a, b in zip(self.scales, self.scales[1:]):
            ta, tb = self.times[a], self.times[b]
            pairs = [y / x for x, y in zip(ta, tb) if x > 0]
            growth.append(
                {"from": a, "to": b, "factor": statistics.median(pairs) if pairs else None}
            )
        return {
            "target": self.target.name,
            "family": self.target.family,
            "op": self.op,
            "rounds": self.rounds,
            "costs": costs,
            "growth": growth,
            "errors": dict(self.errors),
        }


# ------------------------------------------------------------------------------------------
# the session: targets, engines, plan, report
# ------------------------------------------------------------------------------------------
class Session:
    def __init__(self, targets: list[Target], settings: Settings, root: str | None = None):
        self.targets = targets
        self.settings = settings
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="conductor-bench-")
        self._counter = 0
        self._sets: dict[tuple, EngineSet] = {}
        self._scale_engines: dict[tuple, Engine] = {}
        self.report: dict[str, Any] = {
            "machine": machine_info(self.root),
            "settings": {
                "records": settings.records,
                "quick": settings.quick,
                "full": settings.full,
                "scales": list(settings.scales),
                "rounds": settings.rounds,
                "ops_per_round": dict(settings.n),
                "procs": list(settings.procs),
                "per_proc": settings.per_proc,
                "cold_runs": settings.cold_runs,
            },
            "targets": [
                {
                    "name": t.name,
                    "url": t.shown_url,
                    "family": t.family,
                    "description": t.description,
                }
                for t in targets
            ],
            "results": [],
            "startup": [],
            "concurrency": [],
            "scaling": [],
            "checks": [],
        }

    # -- locations and engines -------------------------------------------------------------
    def _fresh(self, label: str) -> str:
        self._counter += 1
        path = os.path.join(self.root, f"{self._counter:03d}-{_slug(label)}")
        return path

    def _raw_dir_near(self, target: Target) -> str:
        """Raw engines live on the same filesystem as the target when it has a path."""
        if target.url and target.scheme == "json":
            _, path = split_scheme(target.url)
            parent = os.path.dirname(os.path.abspath(path.rstrip("/"))) or "/"
            if os.access(parent, os.W_OK):
                return tempfile.mkdtemp(prefix=".conductor-bench-raw-", dir=parent)
        return self.root

    def store_engine(self, target: Target, use: str) -> StoreEngine:
        self._counter += 1
        project = f"bench-{os.getpid()}-{self._counter}"
        if target.url is not None:
            url = target.url
        elif target.scheme == "json":
            url = "json://" + self._fresh(f"{target.name}-{use}")
        elif target.scheme == "surrealkv":
            url = "surrealkv://" + self._fresh(f"{target.name}-{use}")
        else:
            url = f"{target.scheme}://"
        return StoreEngine(url, project, target.options, label=f"Store {target.name}")

    def reference_engines(self, target: Target, use: str, with_extras: bool) -> dict[str, Engine]:
        base = self._raw_dir_near(target)
        self._counter += 1
        stem = os.path.join(base, f"{self._counter:03d}-{_slug(target.name)}-{use}")
        refs: dict[str, Engine] = {}
        if target.family in ("json", "json-nosync"):
            refs["raw"] = FilesEngine(stem + "-files", fsync=target.durable)
        elif target.family == "surreal-embedded":
            if target.scheme in ("mem", "memory"):
                refs["raw"] = SurrealEngine("mem://", database=f"raw{self._counter}")
            else:
                refs["raw"] = SurrealEngine(
                    "surrealkv://" + stem + "-kv", database=f"raw{self._counter}"
                )
        elif target.family == "surreal-remote":
            refs["raw"] = SurrealEngine(target.url, database=f"raw_{os.getpid()}_{self._counter}")
        refs["sqlite"] = SqliteEngine(stem + ".sqlite", "FULL" if target.durable else "NORMAL")
        if with_extras and target.family == "json":
            refs["fsync100"] = Fsync100Engine(stem + "-fsync")
            refs["files500"] = Files500Engine(stem + "-small")
            if tinydb_available():
                refs["tinydb"] = TinyEngine(stem + "-tinydb.json")
        return refs

    def engine_set(self, target: Target, group: str) -> EngineSet:
        key = (target.name, group)
        if key not in self._sets:
            for other in [k for k in self._sets if k[0] == target.name]:  # one set open per target
                self._sets.pop(other).close()
            self._sets[key] = EngineSet(self, target, group, with_extras=(group == "write"))
        return self._sets[key]

    def scale_engine(self, target: Target, scale: int) -> Engine:
        key = (target.name, scale)
        if key not in self._scale_engines:
            for other in [k for k in self._sets if k[0] == target.name]:
                self._sets.pop(other).close()
            eng = self.store_engine(target, f"scale{scale}")
            self._scale_engines[key] = eng
            eng.setup(scale)
        return self._scale_engines[key]

    def release(self, target: Target) -> None:
        """Close every engine of ``target`` (embedded engines lock their location)."""
        for key in [k for k in self._sets if k[0] == target.name]:
            self._sets.pop(key).close()
        for key in [k for k in self._scale_engines if k[0] == target.name]:
            self._scale_engines.pop(key).close()

    def close_engines(self) -> None:
        for target in self.targets:
            self.release(target)

    def close(self) -> None:
        self.close_engines()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- the plan ---------------------------------------------------------------------------
    def plan(self) -> list[tuple[str, Callable[[], Measurement], str]]:
        """``(kind, factory, label)`` for every measurement, in run order."""
        st = self.settings
        steps: list[tuple[str, Callable[[], Measurement], str]] = []
        for t in self.targets:
            for op in (*READ_OPS, *WRITE_OPS):
                steps.append(
                    (
                        "results",
                        lambda t=t, op=op: OpComparison(self, t, op),
                        f"{t.name}: {OP_TITLES[op]}",
                    )
                )
            if not (st.quick and t.family.startswith("surreal")):  # ~0.5 s a process
                steps.append(("startup", lambda t=t: ColdStart(self, t), f"{t.name}: cold start"))
            if t.multiprocess:
                for p in st.procs:
                    steps.append(
                        (
                            "concurrency",
                            lambda t=t, p=p: Concurrency(self, t, p),
                            f"{t.name}: {p} concurrent writers",
                        )
                    )
            sizes = ", ".join(f"{x:,}" for x in st.scales)
            for op in Scaling.OPS:
                steps.append(
                    (
                        "scaling",
                        lambda t=t, op=op: Scaling(self, t, op),
                        f"{t.name}: {op} at {sizes} records",
                    )
                )
        steps.append(("startup", lambda: HelpStartup(self), "conductor-store --help"))
        return steps

    def add(self, kind: str, result: dict) -> None:
        self.report[kind].append(result)

    def execute(
        self, kind: str, m: Measurement, runner: Callable[[Measurement], None] | None = None
    ) -> dict:
        """Prepare ``m``, run its rounds (by default references then Store, ``m.rounds`` times;
        pytest passes a ``runner`` handing them to ``benchmark.pedantic``), record its result."""
        target = getattr(m, "target", None)
        if target is not None:
            for other in self.targets:  # one target's engines open at a time
                if other.name != target.name:
                    self.release(other)
            if kind in ("startup", "concurrency"):
                self.release(target)  # other processes open the location
        try:
            m.prepare()
            if runner is None:
                for _ in range(m.rounds):
                    m.reference_round()
                    m.store_round()
            else:
                runner(m)
            result = m.result()
            self.add(kind, result)
            return result
        finally:
            m.close()

    def run(self, progress: Progress | None = None) -> dict:
        steps = self.plan()
        for k, (kind, factory, label) in enumerate(steps, 1):
            if progress:
                progress(k, len(steps), label)
            self.execute(kind, factory())
        self.close_engines()
        return self.finish()

    def finish(self) -> dict:
        self.report["machine"]["load_after"] = _loadavg()
        self.report["checks"] = evaluate_checks(self.report)
        return self.report


# ------------------------------------------------------------------------------------------
# checks: the figures the issue names
# ------------------------------------------------------------------------------------------
def _find_row(report: dict, target: str, op: str) -> dict | None:
    for row in report["results"]:
        if row["target"] == target and row["op"] == op:
            return row
    return None


def _check(
    name: str,
    figure: str,
    measured: float | None,
    threshold: float,
    *,
    unit: str,
    detail: str,
    higher_is_better: bool = True,
    error: str | None = None,
    row: tuple | None = None,
) -> dict:
    """``row``: the (target, op) of the results table the check belongs to, if any."""
    if measured is None:
        reached = None
    else:
        reached = measured >= threshold if higher_is_better else measured <= threshold
    return {
        "name": name,
        "figure": figure,
        "measured": measured,
        "threshold": threshold,
        "unit": unit,
        "reached": reached,
        "detail": detail,
        "error": error,
        "row": list(row) if row else None,
    }


def _fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _ratio_check(
    report: dict, name: str, figure: str, target: str, op: str, ref: str, threshold: float
) -> dict:
    row = _find_row(report, target, op)
    if row is None:
        return _check(
            name, figure, None, threshold, unit="×", detail="not measured", row=(target, op)
        )
    if ref in ("raw", "sqlite"):
        ref_rate, ref_label = row[ref], (row["raw_engine"] if ref == "raw" else "sqlite3")
        ratio = row["ratio"] if ref == "raw" else row["vs_sqlite"]
    else:
        info = row["refs"].get(ref) or {}
        ref_rate, ref_label, ratio = info.get("rate"), info.get("label", ref), info.get("ratio")
    err = row["errors"].get("store") or row["errors"].get(ref)
    detail = (
        f"Store {_fmt(row['store'], 0)} {row['unit']} vs {ref_label} {_fmt(ref_rate, 0)} "
        f"{row['unit']} = {_fmt(ratio)}× (need ≥ {threshold}×; {row['records']:,} records)"
    )
    return _check(
        name, figure, ratio, threshold, unit="×", detail=detail, error=err, row=(target, op)
    )


def evaluate_checks(report: dict) -> list[dict]:
    checks: list[dict] = []
    targets = {t["name"]: t for t in report["targets"]}
    for name, t in targets.items():
        fam = t["family"]
        if fam == "json":
            checks.append(
                _ratio_check(
                    report,
                    f"{name}: commit vs fsync",
                    "JSON durable: single-record commit ≥ 0.4 × one 100-byte write+fsync",
                    name,
                    "insert",
                    "fsync100",
                    0.4,
                )
            )
            checks.append(
                _ratio_check(
                    report,
                    f"{name}: tx500 vs small files",
                    "JSON durable: 500-record transaction ≥ 0.6 × "
                    "creating 500 small files (no fsync)",
                    name,
                    "tx500",
                    "files500",
                    0.6,
                )
            )
            checks.append(
                _ratio_check(
                    report,
                    f"{name}: get vs file read",
                    "JSON durable: get ≥ raw open+read+json.loads of one file",
                    name,
                    "get",
                    "raw",
                    1.0,
                )
            )
            row = _find_row(report, name, "find")
            qps = row["store"] if row else None
            checks.append(
                _check(
                    f"{name}: repeated find",
                    "JSON durable: repeated find over 2,000 unchanged records ≥ 300 queries/s",
                    qps,
                    300,
                    unit="queries/s",
                    detail=(
                        "not measured"
                        if row is None
                        else f"{_fmt(qps, 0)} queries/s over {row['records']:,} unchanged records "
                        f"(~{expected_matches(row['records'])} matches each)"
                    ),
                    error=row["errors"].get("store") if row else None,
                    row=(name, "find"),
                )
            )
            if tinydb_available() or any(
                "tinydb" in (r.get("refs") or {}) for r in report["results"]
            ):
                checks.append(
                    _ratio_check(
                        report,
                        f"{name}: insert vs TinyDB",
                        "JSON durable: inserts ≥ 5 × TinyDB's on the same workload",
                        name,
                        "insert",
                        "tinydb",
                        5.0,
                    )
                )
        if fam == "surreal-embedded":
            for op in ("insert", "get", "update", "tx500"):
                checks.append(
                    _ratio_check(
                        report,
                        f"{name}: {op} vs SDK",
                        f"SurrealDB embedded: Store {OP_TITLES[op]} ≥ 0.9 × "
                        "the same calls on the SDK",
                        name,
                        op,
                        "raw",
                        0.9,
                    )
                )
    for row in report["startup"]:
        if row.get("family") == "json":
            checks.append(
                _check(
                    f"{row['target']}: cold start",
                    "import conductor_store + open a JSON store + one get, fresh process ≤ 150 ms",
                    row["store_ms"],
                    150,
                    unit="ms",
                    higher_is_better=False,
                    detail=(
                        f"{_fmt(row['store_ms'], 0)} ms median of {row['runs']} (bare python -c pass: "
                        f"{_fmt(row['python_ms'], 0)} ms; raw file read: {_fmt(row['raw_ms'], 0)} ms)"
                    ),
                    error=row["errors"].get("store"),
                )
            )
        if row["target"] == "cli":
            checks.append(
                _check(
                    "cli: --help",
                    "conductor-store --help ≤ 300 ms",
                    row["store_ms"],
                    300,
                    unit="ms",
                    higher_is_better=False,
                    detail=(
                        f"{_fmt(row['store_ms'], 0)} ms median of {row['runs']} "
                        f"(bare python -c pass: {_fmt(row['python_ms'], 0)} ms)"
                    ),
                    error=row["errors"].get("store"),
                )
            )
    checks.extend(scaling_checks(report))
    return checks


FLAT_OPS = ("get", "insert", "update")
FLAT_LIMIT = 2.0  # µs/op may at most double for 10× the records (noise allowance)
LINEAR_SLACK = 1.5  # scans may grow at most 1.5 × the size factor


def scaling_checks(report: dict) -> list[dict]:
    out = []
    for row in report["scaling"]:
        target, op = row["target"], row["op"]
        known = [g for g in row["growth"] if g["factor"] is not None]
        if not row["growth"]:
            continue
        costs_txt = ", ".join(
            f"{c['records']:,}: {_fmt(c['us_per_op'], 1)} µs" for c in row["costs"]
        )
        parts = ", ".join(f"{g['from']:,}→{g['to']:,}: ×{_fmt(g['factor'])}" for g in row["growth"])
        detail = f"{costs_txt} per op ({parts}, median of paired rounds)"
        err = next(iter(row["errors"].values()), None)
        if op in FLAT_OPS:
            complete = len(known) == len(row["growth"])
            worst = max((g["factor"] for g in known), default=None) if complete else None
            out.append(
                _check(
                    f"{target}: {op} stays flat",
                    f"per-operation cost of {op} stays flat (≤ ×{FLAT_LIMIT} per 10× records)",
                    worst,
                    FLAT_LIMIT,
                    unit="×",
                    higher_is_better=False,
                    detail=detail,
                    error=err,
                )
            )
        else:
            norm = [g["factor"] / (g["to"] / g["from"]) for g in known]  # 1.0 = exactly linear
            worst = max(norm, default=None) if len(known) == len(row["growth"]) else None
            out.append(
                _check(
                    f"{target}: {op} grows ≤ linearly",
                    f"{op} cost grows at most linearly "
                    f"with records (growth ≤ {LINEAR_SLACK} × the size factor)",
                    worst,
                    LINEAR_SLACK,
                    unit="× linear",
                    higher_is_better=False,
                    detail=detail,
                    error=err,
                )
            )
    return out


# ------------------------------------------------------------------------------------------
# the machine
# ------------------------------------------------------------------------------------------
def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info(path: str | None = None) -> dict:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "load_before": _loadavg(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        info["cpu"] = platform.processor() or platform.machine()
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        info["ram_gb"] = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        out = subprocess.run(
            ["df", "-T", path or tempfile.gettempdir()], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()
        fields = out[-1].split()
        info["disk"] = {
            "device": fields[0],
            "filesystem": fields[1],
            "mount": fields[-1],
            "path": path or tempfile.gettempdir(),
        }
    except Exception:  # noqa: BLE001
        pass
    versions = {"sqlite": sqlite3.sqlite_version}
    from importlib import metadata

    for dist in ("conductor-store", "surrealdb", "tinydb", "click", "pytest-benchmark"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    info["versions"] = versions
    return info


# ------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------
def _rate_txt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def _ratio_txt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def _checks_by_row(report: dict) -> dict[tuple[str, str], list[dict]]:
    keyed: dict[tuple[str, str], list[dict]] = {}
    for c in report["checks"]:
        if c.get("row"):
            keyed.setdefault(tuple(c["row"]), []).append(c)
    return keyed


def _verdict(c: dict) -> str:
    return {True: "reached", False: "NOT reached", None: "not measured"}[c["reached"]]


def _short_check(c: dict) -> str:
    mark = {True: "ok", False: "MISS", None: "?"}[c["reached"]]
    rest = c["name"].partition(": ")[2]
    if c["unit"] == "×":
        return f"{mark} {rest} {_fmt(c['measured'])}/{c['threshold']}"
    return f"{mark} {rest} {_fmt(c['measured'], 0)}/{c['threshold']:g}"


def result_rows(report: dict) -> list[list[str]]:
    keyed = _checks_by_row(report)
    rows = []
    for r in report["results"]:
        checks = "; ".join(_short_check(c) for c in keyed.get((r["target"], r["op"]), []))
        rows.append(
            [
                r["target"],
                r["title"],
                f"{r['records']:,}",
                r["unit"],
                _rate_txt(r["store"]),
                r["raw_engine"] or "—",
                _rate_txt(r["raw"]),
                _ratio_txt(r["ratio"]),
                _rate_txt(r["sqlite"]),
                _ratio_txt(r["vs_sqlite"]),
                checks,
            ]
        )
        for ref in r["refs"].values():
            rows.append(
                [
                    "",
                    f"  vs {ref['label']}",
                    "",
                    "",
                    "",
                    ref["label"],
                    _rate_txt(ref["rate"]),
                    _ratio_txt(ref["ratio"]),
                    "",
                    "",
                    "",
                ]
            )
        fp = r.get("first_pass")
        if fp:
            rows.append(
                [
                    "",
                    "  first get of each record",
                    "",
                    r["unit"],
                    _rate_txt(fp["store"]),
                    r["raw_engine"] or "—",
                    _rate_txt(fp["raw"]),
                    _ratio_txt(fp["ratio"]),
                    _rate_txt(fp["sqlite"]),
                    _ratio_txt(fp["vs_sqlite"]),
                    "(one pass, info)",
                ]
            )
    return rows


RESULT_HEADER = [
    "backend",
    "operation",
    "records",
    "unit",
    "Store",
    "raw engine",
    "raw",
    "ratio",
    "sqlite3",
    "vs sqlite",
    "check",
]


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *[line(r) for r in rows]])


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|") or " "  # noqa: E731
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def startup_rows(report: dict) -> list[list[str]]:
    rows = []
    for r in report["startup"]:
        rows.append(
            [
                r["target"],
                r["what"],
                _fmt(r["store_ms"], 0),
                r.get("raw_engine") or "—",
                _fmt(r.get("raw_ms"), 0),
                _ratio_txt(r.get("ratio")),
                _fmt(r.get("sqlite_ms"), 0),
                _fmt(r["python_ms"], 0),
            ]
        )
    return rows


STARTUP_HEADER = [
    "backend",
    "what",
    "Store ms",
    "raw engine",
    "raw ms",
    "ratio",
    "sqlite3 ms",
    "python -c pass ms",
]


def concurrency_rows(report: dict) -> list[list[str]]:
    rows = []
    for r in report["concurrency"]:
        ok = "yes" if r["verified"].get("store") else ("NO" if "store" in r["verified"] else "—")
        rows.append(
            [
                r["target"],
                str(r["procs"]),
                str(r["per_proc"]),
                _rate_txt(r["store"]),
                r["raw_engine"] or "—",
                _rate_txt(r["raw"]),
                _ratio_txt(r["ratio"]),
                _rate_txt(r["sqlite"]),
                _ratio_txt(r["vs_sqlite"]),
                ok,
            ]
        )
    return rows


CONC_HEADER = [
    "backend",
    "processes",
    "inserts each",
    "Store ops/s",
    "raw engine",
    "raw ops/s",
    "ratio",
    "sqlite3 ops/s",
    "vs sqlite",
    "all writes kept",
]


def scaling_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    sizes = sorted({c["records"] for r in report["scaling"] for c in r["costs"]})
    verdicts = {
        c["name"]: c for c in report["checks"] if "flat" in c["name"] or "linearly" in c["name"]
    }
    rows = []
    for r in report["scaling"]:
        costs = {c["records"]: c["us_per_op"] for c in r["costs"]}
        growth = {(g["from"], g["to"]): g["factor"] for g in r["growth"]}
        verdict = next(
            (c for n, c in verdicts.items() if n.startswith(f"{r['target']}: {r['op']} ")), None
        )
        rows.append(
            [
                r["target"],
                r["op"],
                *[_fmt(costs.get(s), 1) for s in sizes],
                *[
                    "—" if growth.get((a, b)) is None else f"×{growth[(a, b)]:.2f}"
                    for a, b in zip(sizes, sizes[1:])
                ],
                (
                    "—"
                    if verdict is None
                    else ("flat" if r["op"] in FLAT_OPS else "≤ linear")
                    if verdict["reached"]
                    else _verdict(verdict)
                ),
            ]
        )
    header = [
        "backend",
        "operation",
        *[f"µs/op @ {s:,}" for s in sizes],
        *[f"{a:,}→{b:,}" for a, b in zip(sizes, sizes[1:])],
        "verdict",
    ]
    return header, rows


def check_rows(report: dict) -> list[list[str]]:
    return [
        [
            _verdict(c),
            c["name"],
            c["figure"],
            c["detail"] + (f" [error: {c['error']}]" if c.get("error") else ""),
        ]
        for c in report["checks"]
    ]


def error_lines(report: dict) -> list[str]:
    lines = []
    for kind in ("results", "startup", "concurrency", "scaling"):
        for r in report[kind]:
            for name, err in (r.get("errors") or {}).items():
                what = r.get("op") or r.get("what") or f"{r.get('procs')} writers"
                if kind == "scaling":
                    what, name = f"scaling {what}", f"{int(name):,} records"
                lines.append(f"{r['target']} / {what} / {name}: {err}")
    return lines


def render_text(report: dict) -> str:
    m = report["machine"]
    out = [
        f"conductor-store bench -- {m.get('cpu', '?')}, {m.get('cores')} cores, "
        f"Python {m['python']}, {(m.get('disk') or {}).get('filesystem', '?')} disk, "
        f"load average {_load_txt(m.get('load_before'))} before / {_load_txt(m.get('load_after'))} after",
        "ratio = Store speed / raw engine speed (1.00× = as fast as the raw engine), median "
        "of per-round ratios; rates are medians of interleaved rounds.",
        "",
        _text_table(RESULT_HEADER, result_rows(report)),
    ]
    if report["startup"]:
        out += [
            "",
            "Start-up (fresh process, median wall time):",
            _text_table(STARTUP_HEADER, startup_rows(report)),
        ]
    if report["concurrency"]:
        out += [
            "",
            "Concurrent writer processes (one location, single inserts):",
            _text_table(CONC_HEADER, concurrency_rows(report)),
        ]
    if report["scaling"]:
        header, rows = scaling_rows(report)
        out += [
            "",
            "How costs grow with the number of records (Store, µs per operation):",
            _text_table(header, rows),
        ]
    if report["checks"]:
        out += [
            "",
            "Checks:",
            _text_table(["result", "check", "figure", "measured"], check_rows(report)),
        ]
    errs = error_lines(report)
    if errs:
        out += ["", "Errors (measurements skipped):", *[f"  {e}" for e in errs]]
    return "\n".join(out)


def _load_txt(load: list | None) -> str:
    return "n/a" if not load else ", ".join(f"{x:.2f}" for x in load)


def render_markdown(report: dict, notes: list[str] | None = None) -> str:
    m = report["machine"]
    s = report["settings"]
    disk = m.get("disk") or {}
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    reached = sum(1 for c in report["checks"] if c["reached"] is True)
    missed = [c for c in report["checks"] if c["reached"] is False]
    unmeasured = sum(1 for c in report["checks"] if c["reached"] is None)
    header, srows = scaling_rows(report)
    parts = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m conductor_store.bench --write-docs docs/benchmarks.md"
        + (" --full" if s.get("full") else "")
        + "`; do not edit the tables by hand. -->",
        "",
        "Choose a backend with numbers from your own machine: `conductor-store bench` runs the "
        "comparison below in a minute or two and prints the same tables. Every Store figure sits "
        "beside the raw engine doing the same work in the same run, and beside `sqlite3` (WAL), "
        "the reference most people would otherwise pick. **Ratios, not absolute rates, are what "
        "carry over to another machine.**",
        "",
        "## Machine",
        "",
        f"- CPU: {m.get('cpu', '?')}, {m.get('cores')} cores; RAM {m.get('ram_gb', '?')} GB",
        f"- Disk: {disk.get('filesystem', '?')} on {disk.get('device', '?')} (mounted at "
        f"{disk.get('mount', '?')}; the benchmarks' files were under "
        f"{os.path.dirname(disk.get('path', '?/?').rstrip('/'))})",
        f"- OS: {m.get('platform')}",
        f"- Load average (1, 5, 15 min) before / after the run: {_load_txt(m.get('load_before'))} / "
        f"{_load_txt(m.get('load_after'))} -- other work on the machine shows here; ratios are "
        "paired per round to stay meaningful under it, absolute times (cold start) are not",
        f"- Python {m['python']} ({m.get('implementation')}); {versions}",
        f"- Run: {s['records']:,} records per comparison, {s['rounds']} timed rounds "
        f"(transactions: fewer), scales {', '.join(f'{x:,}' for x in s['scales'])}"
        + ("; quick mode" if s.get("quick") else "")
        + ("; full run" if s.get("full") else ""),
        "",
        "## Method",
        "",
        "- **Workloads** (`conductor_store/bench.py`, shared by the CLI and `benchmarks/`): each is a "
        "function doing *n* operations on an engine -- the Store through its public API, or a raw "
        "engine. Records are ~100-byte task documents (`status`, `priority`, `owner`, `title`, "
        "`tags`); ids are fixed strings so every engine does exactly the same work.",
        "  - *single insert*: one `store.insert(...)` = one commit each;",
        "  - *get by id*: ids of loaded records in a fixed pseudo-random order, after a warm-up "
        "pass over every record (steady state: caches filled); that pass is timed too and shown "
        "as *first get of each record* (the cost of a cache miss; one pass, for information);",
        "  - *update*: `store.update(table, id, {two fields})` (a shallow merge);",
        f'  - *find*: `store.find(table, "{FILTER}", params=...)` (about 10% of records match, '
        "returned ordered by id); *count*: the same filter with `count`;",
        "  - *500-record transaction*: `with store.transaction() as tx:` + 500 `tx.insert`; rate in "
        "records/s.",
        "- **Raw engines**, doing the same work directly:",
        "  - JSON backend (durable): one file per record written to a temp file, `fsync`ed and "
        "renamed; get = open + read + `json.loads`; find/count = read and parse every file, filter "
        "in Python. For `durable=False` the same without `fsync`.",
        "  - The JSON checks also use two fixed references: appending 100 bytes to an open file + "
        "`fsync` (the floor of any durable commit) and creating 500 small files (open, write, close, "
        "no fsync). TinyDB (default JSON storage) is measured on the same insert workload.",
        "  - SurrealDB backends: the `surrealdb` SDK called directly on the same kind of location "
        "(`create`, `select`, `merge`, `query`, and one `BEGIN ... COMMIT` query for 500 records), "
        "in the same process, so the engine's fsync setting (`SURREAL_SYNC_DATA`, read once per "
        "process; the Store turns it on for durable on-disk stores) is the same for both. The "
        "Store's commits also write the change log (a sequence bump and one log record per "
        "commit), which the bare SDK calls do not.",
        "  - `sqlite3` in WAL mode, table `(id TEXT PRIMARY KEY, doc TEXT)` holding JSON; "
        "`synchronous=FULL` beside durable backends, `NORMAL` beside non-durable ones; update via "
        "`json_patch`, find via `json_extract`.",
        "- **Timing**: every engine is loaded with the same records, checked for correct answers "
        "(a fast wrong answer is refused), warmed up with one untimed round, then timed in "
        "rounds -- references first, then the Store, round after round -- and the median round "
        "gives the rate. **ratio = Store speed ÷ raw engine speed**, the median of the per-round "
        "ratios (each round times both back to back, so a slow spell of the disk hits both); "
        "1.00× = as fast as the raw engine, 0.50× = twice the time.",
        "- **Cold start**: a new `python -c` process doing `import conductor_store`, `open`, one "
        "`get` of an existing record; wall time of the whole process (interpreter start "
        "included), median of several runs after one untimed warm-up, beside the raw engine's "
        "own cold read and a bare `python -c pass`. Bytecode caching is on, as in a normal "
        "install (the harness drops `PYTHONDONTWRITEBYTECODE` and caches in a private "
        "`PYTHONPYCACHEPREFIX`). `conductor-store --help` runs the installed console script.",
        "- **Concurrent writers**: N processes (each opens the store, then all start together) do "
        "single inserts into one location; total inserts/s over the common interval; afterwards "
        "the record count is verified (no lost writes). Only for backends that several processes "
        "can open (not `mem://`, not embedded `surrealkv://`, which the engine locks).",
        "- **Scaling**: the Store alone at 1,000 and 10,000 records (100,000 with `--full`), µs "
        "per operation; rounds alternate between the sizes and the growth factor is the median "
        "of per-round ratios (scans run more queries per round at the smaller sizes, so every "
        "round is long enough to time). get/insert/update should stay flat (≤ ×2 for 10× "
        "records, a noise allowance); find/count scan every record and should grow at most "
        "linearly (≤ 1.5 × the size factor).",
        "",
        "Reproduce: `conductor-store bench` (add `--url URL` for any backend, e.g. a remote "
        "`ws://host:8000`, `--quick`, `--full`, `--json`), or with pytest-benchmark: "
        "`pytest benchmarks/ --benchmark-only` (options `--bench-url URL` (repeatable), "
        "`--bench-no-builtins`, `--bench-records N`, `--bench-quick`, `--bench-full`, "
        "`--bench-json FILE`, `--bench-docs FILE`; not part of the default `pytest` run). A "
        "remote SurrealDB is measured only when its `ws://` URL is given (any password is shown "
        "as `***`); its raw reference is the SDK over the same kind of connection. Regenerate "
        "this page with `python -m conductor_store.bench --full --write-docs docs/benchmarks.md`.",
        "",
        "## Results",
        "",
        _md_table(RESULT_HEADER, result_rows(report)),
        "",
    ]
    if report["startup"]:
        parts += ["### Start-up", "", _md_table(STARTUP_HEADER, startup_rows(report)), ""]
    if report["concurrency"]:
        parts += [
            "### Concurrent writer processes",
            "",
            _md_table(CONC_HEADER, concurrency_rows(report)),
            "",
        ]
    if srows:
        parts += ["### How costs grow", "", _md_table(header, srows), ""]
    parts += [
        "## Checks",
        "",
        f"{reached} reached, {len(missed)} not reached, {unmeasured} not measured.",
        "",
        _md_table(["result", "check", "figure", "measured"], check_rows(report)),
        "",
    ]
    errs = error_lines(report)
    if errs:
        parts += ["## Errors during the run", "", *[f"- {e}" for e in errs], ""]
    if notes:
        parts += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------
# entry points
# ------------------------------------------------------------------------------------------
def make_session(
    urls: Iterable[str] = (),
    *,
    records: int | None = None,
    quick: bool = False,
    full: bool = False,
    builtins: bool | None = None,
) -> Session:
    urls = list(urls)
    targets = [target_from_url(u) for u in urls]
    if builtins or (builtins is None and not urls):
        targets = builtin_targets() + targets
    return Session(targets, Settings.make(records=records, quick=quick, full=full))


def run(
    urls: Iterable[str] = (),
    *,
    records: int | None = None,
    quick: bool = False,
    full: bool = False,
    progress: Progress | None = None,
) -> dict:
    session = make_session(urls, records=records, quick=quick, full=full)
    try:
        return session.run(progress)
    finally:
        session.close()


def scrub(text: str, urls: Iterable[str]) -> str:
    """Remove any password of ``urls`` from ``text``."""
    for url in urls:
        if url and redact_url(url) != url:
            text = text.replace(url, redact_url(url))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conductor_store.bench")
    parser.add_argument("--url", action="append", default=[])
    parser.add_argument("--records", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write-docs", metavar="PATH")
    parser.add_argument("--from-json", metavar="FILE", help="render a saved --json report")
    parser.add_argument("--note", action="append", default=[])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # one concurrent writer; its job is in $CONDUCTOR_BENCH_JOB
        _worker(json.loads(os.environ["CONDUCTOR_BENCH_JOB"]))
        return 0
    if args.from_json:
        with open(args.from_json) as f:
            report = json.load(f)
        report["checks"] = evaluate_checks(report)
    else:

        def progress(k: int, total: int, label: str) -> None:
            print(f"[{k:>3}/{total}] {label}", file=sys.stderr, flush=True)

        report = run(
            args.url,
            records=args.records,
            quick=args.quick,
            full=args.full,
            progress=None if args.json else progress,
        )
    if args.write_docs:
        Path(args.write_docs).write_text(render_markdown(report, args.note))
    if args.json:
        print(scrub(json.dumps(report, indent=2), args.url))
    else:
        print(scrub(render_text(report), args.url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
