"""The session: targets, the engines each measurement uses, the plan, the report."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..urls import split_scheme
from .checks import evaluate_checks
from .data import INDEXED_FIELDS
from .engines import (
    AppendEngine,
    Engine,
    Files500Engine,
    FilesEngine,
    SqliteEngine,
    StoreEngine,
    SurrealEngine,
    SurrealLoggedEngine,
    TinyEngine,
    tinydb_available,
)
from .machine import loadavg, machine_info
from .measure import Measurement
from .results import Report
from .settings import Settings
from .targets import Target
from .timing import short_error

Progress = Callable[[int, int, str], None]


@dataclass
class Step:
    group: str  # op | query | history | startup | concurrency | scaling
    target: Target | None
    make: Callable[[], Measurement]
    label: str


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "x"


class Loaded:
    """Engines loaded with the same records (``errors``: those that could not be)."""

    def __init__(self, engines: dict[str, Engine], records: int, indexes: tuple = ()) -> None:
        self.engines: dict[str, Engine] = {}
        self.errors: dict[str, str] = {}
        for name, eng in engines.items():
            try:
                size = 0 if isinstance(eng, (AppendEngine, Files500Engine)) else records
                eng.setup(size, indexes if name in ("store", "raw-idx") else ())
                self.engines[name] = eng
            except Exception as exc:  # noqa: BLE001 -- reported, the run goes on
                self.errors[name] = short_error(exc)
                _quiet_close(eng)

    def close(self) -> None:
        for eng in self.engines.values():
            _quiet_close(eng)


def _quiet_close(eng: Engine) -> None:
    try:
        eng.close()
    except Exception:  # noqa: BLE001
        pass


class Session:
    """``directory``: where the run creates its one temporary folder (``root``; default the
    system's temporary directory). Every store and raw-engine file of the run goes in it --
    except, without ``directory``, the raw engines beside a ``json://`` target of the command
    line, which go next to that target (the same filesystem) -- and :meth:`close` removes it."""

    def __init__(self, targets: list[Target], settings: Settings, directory: str | None = None):
        from .plan import plan

        self.targets, self.settings, self._plan = targets, settings, plan
        self._placed = directory is not None
        self.root = tempfile.mkdtemp(prefix="conductor-bench-", dir=directory)
        self._counter = 0
        self._loaded: dict[tuple, Loaded] = {}
        self._near: dict[str, str] = {}  # folder of a json:// target -> our raw engines' folder
        self.report = Report(
            machine_info(self.root), settings.as_dict(), [t.info() for t in targets]
        )

    # -- locations and engines -------------------------------------------------------------
    def _fresh(self, label: str) -> str:
        self._counter += 1
        return os.path.join(self.root, f"{self._counter:03d}-{_slug(label)}")

    def _raw_stem(self, target: Target, use: str) -> str:
        """Raw engines live on the same filesystem as the target when it has a path."""
        base = self.root
        if target.url and target.scheme == "json" and not self._placed:
            parent = os.path.dirname(os.path.abspath(split_scheme(target.url)[1].rstrip("/")))
            if parent not in self._near and os.access(parent or "/", os.W_OK):
                self._near[parent] = tempfile.mkdtemp(prefix=".conductor-bench-raw-", dir=parent)
            base = self._near.get(parent, base)
        self._counter += 1
        return os.path.join(base, f"{self._counter:03d}-{_slug(target.name)}-{use}")

    def store_engine(self, target: Target, use: str) -> StoreEngine:
        self._counter += 1
        project = f"bench-{os.getpid()}-{self._counter}"
        if target.url is not None:
            url = target.url
        elif target.scheme in ("json", "surrealkv"):
            url = f"{target.scheme}://" + self._fresh(f"{target.name}-{use}")
        else:
            url = f"{target.scheme}://"
        return StoreEngine(url, project, target.options, label=f"Store {target.name}")

    def raw_engine(self, target: Target, stem: str) -> Engine | None:
        db = f"raw{self._counter}"
        if target.is_json:
            return FilesEngine(stem + "-files", fsync=target.durable)
        if target.family == "surreal-embedded":
            local = "mem://" if target.scheme in ("mem", "memory") else f"surrealkv://{stem}-kv"
            return SurrealEngine(local, database=db)
        if target.family == "surreal-remote" and target.url:
            return SurrealEngine(target.url, database=f"raw_{os.getpid()}_{self._counter}")
        return None

    def sqlite(self, target: Target, stem: str, indexed: bool = False) -> SqliteEngine:
        sync = "FULL" if target.durable else "NORMAL"
        return SqliteEngine(stem + ("-idx" if indexed else "") + ".sqlite", sync, indexed)

    def references(self, target: Target, use: str, extras: bool = False) -> dict[str, Engine]:
        stem = self._raw_stem(target, use)
        refs: dict[str, Engine] = {}
        raw = self.raw_engine(target, stem)
        if raw is not None:
            refs["raw"] = raw
        refs["sqlite"] = self.sqlite(target, stem)
        if extras and target.family == "json":
            refs["fsync100"] = AppendEngine(stem + "-fsync", lock=False)
            refs["files500"] = Files500Engine(stem + "-small")
            if tinydb_available():
                refs["tinydb"] = TinyEngine(stem + "-tinydb.json")
        if extras and isinstance(raw, SurrealEngine):  # its own location or database
            refs["sdk+log"] = SurrealLoggedEngine(
                _beside(raw, "log"), database=raw.database + "log"
            )
        return refs

    def _cached(self, key: tuple, make: Callable[[], Loaded]) -> Loaded:
        if key not in self._loaded:
            for other in [k for k in self._loaded if k[:2] == key[:2]]:  # one per target+kind
                self._loaded.pop(other).close()
            self._loaded[key] = make()
        return self._loaded[key]

    def op_engines(self, target: Target, group: str) -> Loaded:
        def make() -> Loaded:
            engines: dict[str, Engine] = {"store": self.store_engine(target, group)}
            engines.update(self.references(target, group, extras=group == "write"))
            return Loaded(engines, self.settings.records)

        return self._cached((target.name, "op", group), make)

    def query_engines(self, target: Target, size: int) -> Loaded:
        """Store with its indexes declared, the raw SDK (SurrealDB only: scanning files is
        no reference for a query), sqlite3 without and with indexes."""

        def make() -> Loaded:
            stem = self._raw_stem(target, f"query{size}")
            engines: dict[str, Engine] = {"store": self.store_engine(target, f"query{size}")}
            raw = None if target.is_json else self.raw_engine(target, stem)
            if isinstance(raw, SurrealEngine):  # and the SDK with the Store's indexes
                engines["raw"] = raw
                url = _beside(raw, "idx")
                engines["raw-idx"] = SurrealEngine(url, database=raw.database + "idx", indexed=True)
            engines["sqlite"] = self.sqlite(target, stem)
            engines["sqlite-idx"] = self.sqlite(target, stem, indexed=True)
            return Loaded(engines, size, INDEXED_FIELDS)

        return self._cached((target.name, "query", size), make)

    def scale_engine(self, target: Target, scale: int) -> Engine:
        """The Store loaded with ``scale`` records and the query indexes declared: the query
        store of that size if it is still open (``--full`` loads 100,000 records once), else
        a store of its own."""
        query = self._loaded.get((target.name, "query", scale))
        if query is not None and "store" in query.engines:
            return query.engines["store"]

        def make() -> Loaded:  # the query store's indexes: every size is the same store
            store = self.store_engine(target, f"scale{scale}")
            return Loaded({"store": store}, scale, INDEXED_FIELDS)

        loaded = self._cached((target.name, f"scale{scale}"), make)
        if "store" not in loaded.engines:
            raise RuntimeError(loaded.errors.get("store", "store not loaded"))
        return loaded.engines["store"]

    def concurrency_engines(self, target: Target, procs: int) -> dict[str, Engine]:
        stem = self._raw_stem(target, f"conc{procs}")
        return {
            "store": self.store_engine(target, f"conc{procs}"),
            "sqlite": self.sqlite(target, stem),
            "lock": AppendEngine(stem + "-lock", lock=True, fsync=target.durable),
            "own": AppendEngine(stem + "-own", lock=False, own=True, fsync=target.durable),
        }

    def release(self, target: Target) -> None:
        """Close every engine of ``target`` (embedded engines lock their location)."""
        for key in [k for k in self._loaded if k[0] == target.name]:
            self._loaded.pop(key).close()

    def close_engines(self) -> None:
        for target in self.targets:
            self.release(target)

    def close(self) -> None:
        self.close_engines()
        for folder in self._near.values():
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- running ----------------------------------------------------------------------------
    def plan(self) -> list[Step]:
        return self._plan(self)

    def execute(self, step: Step, runner: Callable[[Measurement], None] | None = None) -> Any:
        """Make and prepare the step's measurement, run its rounds (references then Store;
        pytest passes a ``runner`` handing them to ``benchmark.pedantic``), record the result."""
        for other in self.targets:  # one target's engines open at a time
            if step.target is None or other.name != step.target.name:
                self.release(other)
        if step.group in ("startup", "concurrency") and step.target is not None:
            self.release(step.target)  # other processes open the location
        t0 = time.perf_counter()
        m = step.make()
        try:
            m.prepare()
            if runner is not None:
                runner(m)
            else:
                for _ in range(m.rounds):
                    m.reference_round()
                    m.store_round()
            result = m.result()
            getattr(self.report, m.kind).append(result)
            return result
        finally:
            m.close()
            self.report.seconds[step.label] = round(time.perf_counter() - t0, 2)

    def run(self, progress: Progress | None = None) -> Report:
        steps = self.plan()
        for k, step in enumerate(steps, 1):
            if progress:
                progress(k, len(steps), step.label)
            self.execute(step)
        self.close_engines()
        return self.finish()

    def finish(self) -> Report:
        self.report.machine["load_after"] = loadavg()
        self.report.checks = evaluate_checks(self.report)
        return self.report


def _beside(raw: SurrealEngine, suffix: str) -> str:
    """A location for a second SDK engine next to ``raw``'s: an on-disk engine locks its
    files, so it gets its own; memory and servers are shared (each uses its own database)."""
    return f"{raw.url}-{suffix}" if raw.url.startswith("surrealkv://") else raw.url
