"""Checks: the figures the issues name, each a measured value against its goal.

A check is ``reached`` / ``NOT reached`` when measured, ``not measured`` when the run could
not measure it (an error, a backend without that reference), and ``not checked`` when the run
was smaller than the figure's definition (``--quick``, or 100,000 records without ``--full``):
a figure defined at 100,000 records says nothing at 200."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from .data import FEW_COUNT
from .fmt import num
from .results import Check, Comparison, Report, Scaling, Status, Storage
from .settings import BIG

Found = tuple[float | None, str, str | None]  # measured, detail, error
Measure = Callable[[Report, str], Found | None]  # None: not measured

JSON = ("json",)
JSONS = ("json", "json-nosync")
SURREAL = ("surreal-embedded",)
EVERY = ("json", "json-nosync", "surreal-embedded", "surreal-remote", "custom")


@dataclass(frozen=True)
class Goal:
    name: str
    figure: str
    families: tuple[str, ...]
    measure: Measure
    goal: float
    unit: str = "×"
    higher: bool = True
    needs: str = ""  # "" | "2k" (a 2,000-record run) | "big" (100,000, --full) | "scale"


def _ratio(kind: str, op: str, ref: str, size: int | None = None, procs: int = 0) -> Measure:
    def measure(report: Report, target: str) -> Found | None:
        c = report.find(kind, target, op, size, procs)
        r = c.ref(ref) if c else None
        if c is None or r is None:
            return None
        unit = c.unit
        detail = f"Store {num(c.store)} {unit} vs {r.label} {num(r.value)} {unit}" + (
            f" ({c.records:,} records)" if c.records else ""
        )
        return r.ratio, detail, c.errors.get("store") or c.errors.get(ref)

    return measure


def _value(kind: str, op: str, size: int | None = None) -> Measure:
    def measure(report: Report, target: str) -> Found | None:
        c = report.find(kind, target, op, size)
        if c is None:
            return None
        detail = f"{num(c.store)} {c.unit}" + (f" at {c.records:,} records" if c.records else "")
        return c.store, detail, c.errors.get("store") or next(iter(c.errors.values()), None)

    return measure


def _flat_query(report: Report, target: str) -> Found | None:
    """The fixed-size query (the same 20 rows at both sizes): index cost, not answer size."""
    small = report.find("query", target, "find_few", report.settings["records"])
    big = report.find("query", target, "find_few", BIG)
    if small is None or big is None or not small.store or not big.store:
        return None
    factor = small.store / big.store  # cost at 100k ÷ cost at the small size
    detail = (
        f"{num(small.store)} queries/s at {small.records:,}, {num(big.store)} at {BIG:,} "
        f"(both return the same {FEW_COUNT} records)"
    )
    return factor, detail, big.errors.get("store")


def _memory(report: Report, target: str) -> Found | None:
    """Store MiB ÷ sqlite3 MiB (medians), from the memory comparison at 100,000 records."""
    c = report.find("memory", target, "memory", BIG)
    r = c.ref("sqlite") if c else None
    if c is None or r is None:
        return None
    ratio = None if c.store is None or not r.value else c.store / r.value
    detail = (
        f"RSS growth: Store {num(c.store)} MiB (reader cache filled by a count of the table) vs "
        f"{num(r.value)} MiB (sqlite3 rows fetched into a list of (id, dict))"
    )
    return ratio, detail, c.errors.get("store") or c.errors.get("sqlite")


def _writers(report: Report, target: str) -> Found | None:
    one = report.find("concurrency", target, "insert", None, 1)
    four = report.find("concurrency", target, "insert", None, 4)
    if one is None or four is None or not one.store or four.store is None:
        return None
    detail = f"4 writers {num(four.store)} commits/s, 1 writer {num(one.store)}"
    return four.store / one.store, detail, four.errors.get("store") or one.errors.get("store")


def _storage(what: str) -> Measure:
    def measure(report: Report, target: str) -> Found | None:
        s = next((x for x in report.storage if x.target == target and x.records == BIG), None)
        if s is None:
            return None
        err = next(iter(s.errors.values()), None)
        if what == "commit":
            return s.max_commit_ms, commit_detail(s), err
        ratio = None if s.log_bytes is None or not s.live_bytes else s.log_bytes / s.live_bytes
        detail = (
            f"log: {num(s.log_bytes, 0)} B in {s.log_files} file(s) of .meta/log; "
            f"live record files: {num(s.live_bytes, 0)} B"
        )
        return ratio, detail, err

    return measure


def commit_detail(s: Storage) -> str:
    ms = [num(x, 2) for x in (s.p50_commit_ms, s.p99_commit_ms, s.p999_commit_ms)]
    return (
        f"{s.updates:,} commits: p50 {ms[0]}, p99 {ms[1]}, p99.9 {ms[2]}, "
        f"max {num(s.max_commit_ms, 1)} ms; {s.slow_commits} over {s.slow_ms:g} ms"
    )


GOALS: tuple[Goal, ...] = (
    Goal(
        "commit vs fsync",
        "single-record commit ≥ 0.4 × one 100-byte write+fsync",
        JSON,
        _ratio("op", "insert", "fsync100"),
        0.4,
    ),
    Goal(
        "tx500 vs small files",
        "500-record transaction ≥ 0.6 × creating 500 small files",
        JSON,
        _ratio("op", "tx500", "files500"),
        0.6,
    ),
    Goal(
        "get vs file read",
        "get ≥ raw open+read+json.loads of one file",
        JSON,
        _ratio("op", "get", "raw"),
        1.0,
    ),
    Goal(
        "repeated find",
        "repeated find over 2,000 unchanged records ≥ 300 queries/s",
        JSON,
        _value("op", "find"),
        300,
        "queries/s",
        needs="2k",
    ),
    Goal(
        "insert vs TinyDB",
        "inserts ≥ 5 × TinyDB's on the same workload",
        JSON,
        _ratio("op", "insert", "tinydb"),
        5.0,
    ),
    *(
        Goal(
            f"{op} vs SDK",
            f"Store {op} ≥ 0.9 × the same calls on the SDK",
            SURREAL,
            _ratio("op", op, "raw"),
            0.9,
        )
        for op in ("insert", "get", "update", "tx500")
    ),
    Goal(
        "find vs SDK",
        "un-indexed find ≥ 0.8 × the SDK's plain SELECT … WHERE",
        SURREAL,
        _ratio("op", "find", "raw"),
        0.8,
    ),
    Goal(
        "cold start",
        "import + open a JSON store + one get, fresh process ≤ 150 ms",
        JSONS,
        _value("startup", "cold"),
        150,
        "ms",
        higher=False,
    ),
    Goal(
        "indexed find 100k",
        "indexed find (1% match), 100k records ≥ 0.5 × indexed sqlite",
        JSONS,
        _ratio("query", "find_eq", "sqlite-idx", BIG),
        0.5,
        needs="big",
    ),
    Goal(
        "indexed find 100k",
        "indexed find (1% match), 100k records ≥ 0.2 × indexed sqlite",
        SURREAL,
        _ratio("query", "find_eq", "sqlite-idx", BIG),
        0.2,
        needs="big",
    ),
    Goal(
        "indexed count 100k",
        "indexed count, 100k records ≥ 0.2 × indexed sqlite",
        JSONS,
        _ratio("query", "count_eq", "sqlite-idx", BIG),
        0.2,
        needs="big",
    ),
    Goal(
        "top-10 asc 100k",
        "ORDER BY indexed LIMIT 10, 100k records ≥ 0.2 × indexed sqlite",
        EVERY,
        _ratio("query", "top_asc", "sqlite-idx", BIG),
        0.2,
        needs="big",
    ),
    Goal(
        "top-10 desc 100k",
        "ORDER BY indexed DESC LIMIT 10, 100k ≥ 0.2 × indexed sqlite",
        JSONS,
        _ratio("query", "top_desc", "sqlite-idx", BIG),
        0.2,
        needs="big",
    ),
    Goal(
        "indexed find flat",
        f"indexed find of the same {FEW_COUNT} records costs the same (≤ ×1.5) at 2k and 100k",
        EVERY,
        _flat_query,
        1.5,
        "× cost",
        higher=False,
        needs="big",
    ),
    Goal(
        "4 writers vs 1",
        "durable commits, 4 writer processes ≥ 2 × one writer",
        JSON,
        _writers,
        2.0,
    ),
    Goal(
        "1 writer vs sqlite",
        "durable commits, one writer ≥ 0.35 × sqlite synchronous=FULL",
        JSON,
        _ratio("concurrency", "insert", "sqlite", None, 1),
        0.35,
    ),
    Goal(
        "log vs live data",
        "after 100k updates of 100k records (default retention), the bytes of the files in "
        ".meta/log ≤ 2 × the bytes of the live record files",
        JSON,
        _storage("log"),
        2.0,
        "× live",
        higher=False,
        needs="big",
    ),
    Goal(
        "slowest commit",
        "no single commit over 50 ms in 100k updates of 100k records (measured: the slowest)",
        JSON,
        _storage("commit"),
        50,
        "ms",
        higher=False,
        needs="big",
    ),
    Goal(
        "memory vs sqlite",
        "a fresh process holding 100k records: JSON reader cache ≤ 1.5 × sqlite3's rows in a list",
        JSON,
        _memory,
        1.5,
        "× sqlite",
        higher=False,
        needs="big",
    ),
    Goal(
        "changes(last-100)",
        "changes(since=last-100) at 100k changes < 5 ms",
        EVERY,
        _value("changes", "changes", BIG),
        5,
        "ms",
        higher=False,
        needs="big",
    ),
    Goal(
        "first find 100k",
        "first find after opening a 100k-record JSON store ≤ 0.5 s",
        JSONS,
        _value("first-find", "first-find", BIG),
        500,
        "ms",
        higher=False,
        needs="big",
    ),
)

HELP = Goal(
    "--help",
    "conductor-store --help ≤ 300 ms",
    ("cli",),
    _value("startup", "help"),
    300,
    "ms",
    higher=False,
)


def _unchecked(goal: Goal, report: Report) -> str | None:
    st = report.settings
    if goal.needs == "big" and BIG not in st.get("query_sizes", ()):
        return f"needs {BIG:,} records (--full)"
    if goal.needs == "2k" and st["records"] < 2000:
        return f"needs 2,000 records; this run has {st['records']:,}"
    if goal.needs == "scale" and min(st["scales"]) < 1000:
        return "needs sizes from 1,000 records"
    return None


def _check(goal: Goal, report: Report, target: str) -> Check:
    name = f"{target}: {goal.name}"

    def make(
        status: Status, measured: float | None = None, detail: str = "", error: str | None = None
    ) -> Check:
        return Check(
            name, goal.figure, status, measured, goal.goal, goal.unit, goal.higher, detail, error
        )

    why = _unchecked(goal, report)
    if why:
        return make("not checked", detail=why)
    found = goal.measure(report, target)
    if found is None or found[0] is None:
        error = found[2] if found else None
        return make("not measured", detail=found[1] if found else "not in this run", error=error)
    value, detail, error = found
    assert value is not None
    ok = value >= goal.goal if goal.higher else value <= goal.goal
    return make("reached" if ok else "NOT reached", value, detail, error)


def evaluate_checks(report: Report) -> list[Check]:
    out: list[Check] = []
    tiny = any(c.ref("tinydb") for c in report.comparisons)
    for t in report.targets:
        for goal in GOALS:
            if t.family in goal.families and (goal.name != "insert vs TinyDB" or tiny):
                out.append(_check(goal, report, t.name))
    if report.find("startup", "cli", "help") is not None:
        out.append(_check(HELP, report, "cli"))
    out.extend(scaling_checks(report))
    return out


FLAT_OPS = ("get", "insert", "update")
FLAT_LIMIT = 2.0  # µs/op may at most double for 10× the records (noise allowance)
LINEAR_SLACK = 1.5  # scans may grow at most 1.5 × the size factor


def _growth(row: Scaling) -> Found:
    """The worst growth of ``row`` (flat ops: the factor; scans: the factor ÷ the size
    factor, 1.0 = exactly linear); None unless every pair of sizes was measured."""
    flat = row.op in FLAT_OPS
    factors = [
        g.factor if flat else g.factor / (g.end / g.start)
        for g in row.growth
        if g.factor is not None
    ]
    worst = max(factors) if len(factors) == len(row.growth) else None
    costs = ", ".join(f"{c.records:,}: {num(c.us_per_op, 1)} µs" for c in row.costs)
    return worst, costs + " per op", next(iter(row.errors.values()), None)


def _given(found: Found, report: Report, target: str) -> Found:
    return found


def scaling_checks(report: Report) -> list[Check]:
    out = []
    for row in report.scaling:
        if not row.growth:
            continue
        found = _growth(row)
        if row.op in FLAT_OPS:
            name, goal, unit = f"{row.op} stays flat", FLAT_LIMIT, "×"
            figure = f"cost of {row.op} stays flat (≤ ×{FLAT_LIMIT} per 10× records)"
        else:
            name, goal, unit = f"{row.op} grows ≤ linearly", LINEAR_SLACK, "× linear"
            figure = f"{row.op} cost grows at most linearly (≤ {goal} × the size factor)"
        spec = Goal(name, figure, EVERY, partial(_given, found), goal, unit, False, "scale")
        out.append(_check(spec, report, row.target))
    return out


def misses(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == "NOT reached"]


def store_failures(report: Report) -> list[str]:
    """Measurements where the Store itself failed (a broken URL or backend)."""
    rows: list[Comparison] = report.comparisons
    out = [f"{c.target} / {c.title}: {c.errors['store']}" for c in rows if "store" in c.errors]
    out += [
        f"{s.target} / storage: {s.errors['store']}" for s in report.storage if "store" in s.errors
    ]
    return out
