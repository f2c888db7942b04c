"""The report as tables (rows of strings), shared by the terminal and the markdown renderers."""

from __future__ import annotations

from .fmt import cell, count, num, ratio
from .results import Check, Comparison, Ref, Report

SECTIONS = (
    ("op", "Operations"),
    ("query", "Queries (Store with indexes declared)"),
    ("changes", "Recent changes"),
    ("first-find", "First query after opening"),
    ("memory", "Memory of a fresh process holding every record (ratio = sqlite3 ÷ Store)"),
    ("startup", "Start-up (fresh process, median ms; ratio = speed)"),
    ("concurrency", "Concurrent writers (one location, single inserts; processes or threads)"),
)
COMPARISON_HEADER = [
    "backend",
    "operation",
    "records",
    "unit",
    "Store",
    "reference",
    "ref",
    "ratio",
]
SHORT_UNITS = {"queries/s": "q/s", "records/s": "rec/s", "commits/s": "c/s"}


def comparison_rows(rows: list[Comparison], short: bool = False) -> list[list[str]]:
    out = []
    for c in rows:
        unit = SHORT_UNITS.get(c.unit, c.unit) if short else c.unit
        records = f"{c.records:,}" if c.records else (f"{c.procs} proc" if c.procs else "")
        head = [c.target, c.title, records, unit, cell(c.store)]
        refs: list[Ref | None] = [*c.refs] or [None]
        for k, r in enumerate(refs):
            first = head if k == 0 else ["", "", "", "", ""]
            tail = ["", "", ""] if r is None else [r.label, cell(r.value), ratio(r.ratio)]
            out.append(first + tail)
        if c.verified:
            kept = "yes" if all(c.verified.values()) else "NO"
            out.append(["", "  all writes kept", "", "", kept, "", "", ""])
        out += _first_pass_rows(c, unit)
    return out


def _first_pass_rows(c: Comparison, unit: str) -> list[list[str]]:
    store = c.extra.get("first pass: store")
    out = []
    for name, value in c.extra.items():
        if not name.startswith("first pass: ") or name.endswith(": store"):
            continue
        ref = c.ref(name.split(": ", 1)[1])
        label = ref.label if ref else name
        speed = None if store is None or not value else store / value
        out.append(
            [
                "",
                "  first get of each",
                "",
                unit,
                cell(store),
                label,
                cell(value),
                ratio(speed),
            ]
        )
    return out


def scaling_table(report: Report) -> tuple[list[str], list[list[str]]]:
    sizes = sorted({c.records for r in report.scaling for c in r.costs})
    pairs = list(zip(sizes, sizes[1:]))
    rows = []
    for r in report.scaling:
        costs = {c.records: c.us_per_op for c in r.costs}
        growth = {(g.start, g.end): g.factor for g in r.growth}
        rows.append(
            [
                r.target,
                r.op,
                *[num(costs.get(s), 1) for s in sizes],
                *["—" if growth.get(p) is None else f"×{growth[p]:.2f}" for p in pairs],
            ]
        )
    header = ["backend", "op", *[f"µs @ {s:,}" for s in sizes], *[f"{a:,}→{b:,}" for a, b in pairs]]
    return header, rows


STORAGE_TITLE = (
    "Storage after single-record updates (live = the record files; log = every file in "
    ".meta/log, compressed or not)"
)
COMMIT_TITLE = "Commit times of those updates (one commit each)"
STORAGE_HEADER = [
    "backend",
    "records",
    "updates",
    "live files B",
    "log B",
    "log files",
    "disk B",
    "log/live",
]
COMMIT_HEADER = ["backend", "commits", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "over 50 ms"]


def storage_rows(report: Report) -> list[list[str]]:
    rows = []
    for s in report.storage:
        per = None if s.log_bytes is None or not s.live_bytes else s.log_bytes / s.live_bytes
        rows.append(
            [
                s.target,
                f"{s.records:,}",
                f"{s.updates:,}",
                num(s.live_bytes, 0),
                num(s.log_bytes, 0),
                count(s.log_files),
                num(s.disk_bytes, 0),
                ratio(per),
            ]
        )
    return rows


def commit_rows(report: Report) -> list[list[str]]:
    """The commit times of the storage runs: one stall (max) beside the pattern (p99.9)."""
    return [
        [
            s.target,
            f"{s.updates:,}",
            *[num(x, 2) for x in (s.p50_commit_ms, s.p99_commit_ms, s.p999_commit_ms)],
            num(s.max_commit_ms, 1),
            count(s.slow_commits),
        ]
        for s in report.storage
    ]


def measured(c: Check) -> str:
    if c.measured is None:
        return "—"
    sign = "≥" if c.higher_is_better else "≤"
    return f"{num(c.measured)} {c.unit} (goal {sign} {c.goal:g})"


def check_summary(checks: list[Check]) -> str:
    counts = {
        s: sum(1 for c in checks if c.status == s)
        for s in ("reached", "NOT reached", "not measured", "not checked")
    }
    return ", ".join(f"{n} {s}" for s, n in counts.items())


def error_lines(report: Report) -> list[str]:
    lines = [
        f"{c.target} / {c.title} / {n}: {e}"
        for c in report.comparisons
        for n, e in c.errors.items()
    ]
    lines += [
        f"{r.target} / scaling {r.op} / {n} records: {e}"
        for r in report.scaling
        for n, e in r.errors.items()
    ]
    lines += [
        f"{s.target} / storage / {n}: {e}" for s in report.storage for n, e in s.errors.items()
    ]
    return lines


def _create(disk: dict) -> str:
    """The run directory's file-creation probe (:func:`.machine.file_create_us`)."""
    wall, kernel = disk.get("file_create_us"), disk.get("file_create_kernel_us")
    if wall is None:
        return disk.get("file_create_error", "not measured")
    return f"{num(wall, 1)} µs ({num(kernel, 1)} µs of it kernel CPU)"


def machine_lines(report: Report) -> list[str]:
    m, s = report.machine, report.settings
    disk = m.get("disk") or {}
    load = lambda x: "n/a" if not x else ", ".join(f"{v:.2f}" for v in x)  # noqa: E731
    versions = ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items())
    mode = "quick" if s.get("quick") else "full" if s.get("full") else "default"
    return [
        f"CPU: {m.get('cpu', '?')}, {m.get('cores')} cores; RAM {m.get('ram_gb', '?')} GB",
        f"Disk: {disk.get('filesystem', '?')} on {disk.get('device', '?')}, every store of the "
        f"run under {disk.get('path', '?')}; creating a file there: {_create(disk)}",
        f"OS: {m.get('platform')}; Python {m.get('python')} ({m.get('implementation')})",
        f"Load average before / after: {load(m.get('load_before'))} / {load(m.get('load_after'))}",
        f"Versions: {versions}",
        f"Run: {mode}; {s['records']:,} records per comparison; queries at "
        f"{', '.join(f'{x:,}' for x in s['query_sizes'])}; {s['rounds']} rounds of "
        f"≥ {s['min_round'] * 1000:.0f} ms; writers {s['writer_seconds']:g} s × "
        f"{s['writer_rounds']} rounds",
    ]
