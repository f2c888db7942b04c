"""The plan of a run: every measurement, in order, as a :class:`Step` that makes it."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable

from .engines import SqliteEngine, StoreEngine
from .measure import Measurement
from .measure.compare import Compare
from .measure.concurrency import Concurrency
from .measure.history import ChangesLatency, FirstFind, StorageGrowth
from .measure.memory import Memory
from .measure.scaling import SCALING_OPS, ScalingRun
from .measure.startup import ColdStart, HelpStartup
from .targets import Target
from .workloads import OPS, QUERIES

if TYPE_CHECKING:
    from .session import Session, Step


#: writer threads in the one-process concurrency row
THREADS = 4


def plan(s: "Session") -> list["Step"]:
    steps: list[Step] = []
    for t in s.targets:
        steps += _op_steps(s, t)
        for size in s.settings.query_sizes:
            steps += _query_steps(s, t, size)
        sizes = ", ".join(f"{x:,}" for x in s.settings.scales)
        for op in SCALING_OPS:
            label = f"{t.name}: {op} at {sizes} records"
            steps.append(_step("scaling", t, partial(_scaling, s, t, op), label))
        if not (s.settings.quick and t.family.startswith("surreal")):  # ~0.5 s a process
            steps.append(_step("startup", t, partial(_cold, s, t), f"{t.name}: cold start"))
        if t.multiprocess:
            for p in s.settings.procs:
                label = f"{t.name}: {p} concurrent writers"
                steps.append(_step("concurrency", t, partial(_conc, s, t, p), label))
            label = f"{t.name}: {THREADS} writer threads in one process"
            steps.append(_step("concurrency", t, partial(_threads, s, t), label))
    cli = Target("cli", "", "cli", description="the command line")
    help_m = partial(HelpStartup, target=cli, root=s.root, rounds=s.settings.cold_runs)
    steps.append(_step("startup", None, help_m, "conductor-store --help"))
    return steps


def _step(group: str, target: Target | None, make: Callable[[], Measurement], label: str) -> "Step":
    from .session import Step

    return Step(group, target, make, label)


def _op_steps(s: "Session", t: Target) -> list["Step"]:
    def make(op: str) -> Measurement:
        w = OPS[op]
        loaded = s.op_engines(t, "read" if w.reads else "write")
        return Compare(
            target=t,
            workload=w,
            kind="op",
            records=s.settings.records,
            engines=loaded.engines,
            errors=loaded.errors,
            rounds=s.settings.rounds,
            min_round=s.settings.min_round,
            prune_periods=s.settings.prune_periods,
        )

    return [_step("op", t, partial(make, op), f"{t.name}: {w.title}") for op, w in OPS.items()]


def _query_steps(s: "Session", t: Target, size: int) -> list["Step"]:
    st = s.settings

    def make(q: str) -> Measurement:
        loaded = s.query_engines(t, size)
        return Compare(
            target=t,
            workload=QUERIES[q],
            kind="query",
            records=size,
            engines=loaded.engines,
            errors=loaded.errors,
            rounds=st.rounds,
            min_round=st.min_round,
        )

    def store() -> StoreEngine:
        loaded = s.query_engines(t, size)
        if "store" not in loaded.engines:
            raise RuntimeError(loaded.errors.get("store", "store not loaded"))
        eng = loaded.engines["store"]
        assert isinstance(eng, StoreEngine)
        return eng

    at = f"@ {size:,} records"
    steps = [
        _step("query", t, partial(make, q), f"{t.name}: {w.title} {at}") for q, w in QUERIES.items()
    ]

    def changes() -> Measurement:
        done = [c for c in s.report.of_kind("changes") if c.target == t.name and c.store]
        predicted = (done[-1].records, done[-1].store) if done and done[-1].store else None
        return ChangesLatency(
            target=t,
            records=size,
            engine=store(),
            rounds=st.rounds,
            min_round=st.min_round,
            predicted=predicted,
        )

    def first() -> Measurement:
        sqlite = s.query_engines(t, size).engines["sqlite-idx"]
        assert isinstance(sqlite, SqliteEngine)
        return FirstFind(
            target=t, records=size, engine=store(), rounds=st.rounds, sqlite_path=sqlite.path
        )

    def grow() -> Measurement:
        return StorageGrowth(target=t, records=size, engine=store())

    def memory() -> Measurement:
        sqlite = s.query_engines(t, size).engines["sqlite"]
        assert isinstance(sqlite, SqliteEngine)
        return Memory(target=t, root=s.root, records=size, store=store(), sqlite=sqlite)

    steps.append(_step("history", t, changes, f"{t.name}: changes(since=last-100) {at}"))
    if t.persistent and t.multiprocess:
        steps.append(_step("history", t, first, f"{t.name}: first find after open {at}"))
    if t.family == "json":  # the durable JSON backend: what issue 9's storage figure is about
        steps.append(_step("history", t, memory, f"{t.name}: memory holding {size:,} records"))
        steps.append(_step("history", t, grow, f"{t.name}: storage after {size:,} updates"))
    return steps


def _cold(s: "Session", t: Target) -> Measurement:
    refs = s.references(t, "cold")
    return ColdStart(
        target=t,
        root=s.root,
        records=s.settings.records,
        rounds=s.settings.cold_runs,
        store=s.store_engine(t, "cold"),
        refs=refs,
    )


def _conc(s: "Session", t: Target, p: int) -> Measurement:
    st = s.settings
    return Concurrency(
        target=t,
        root=s.root,
        procs=p,
        seconds=st.writer_seconds,
        rounds=st.writer_rounds,
        engines=s.concurrency_engines(t, p),
    )


def _threads(s: "Session", t: Target) -> Measurement:
    """One process whose threads share a Store: what group commit among threads gives."""
    st = s.settings
    return Concurrency(
        target=t,
        root=s.root,
        procs=1,
        threads=THREADS,
        seconds=st.writer_seconds,
        rounds=st.writer_rounds,
        engines={"store": s.store_engine(t, f"thr{THREADS}")},
    )


def _scaling(s: "Session", t: Target, op: str) -> Measurement:
    st = s.settings
    return ScalingRun(
        target=t,
        op=op,
        scales=st.scales,
        rounds=st.scale_rounds,
        min_round=st.min_round,
        engine_at=lambda x: s.scale_engine(t, x),
        prune_periods=st.prune_periods,
    )
