"""The report on a terminal: every line fits 100 columns."""

from __future__ import annotations

import textwrap

from .results import Report
from .tables import (
    COMMIT_HEADER,
    COMMIT_TITLE,
    COMPARISON_HEADER,
    SECTIONS,
    STORAGE_HEADER,
    STORAGE_TITLE,
    check_summary,
    commit_rows,
    comparison_rows,
    error_lines,
    machine_lines,
    measured,
    scaling_table,
    storage_rows,
)

WIDTH = 100
# widest a cell may be, per column of the comparison table (wider cells end in "…")
COMPARISON_WIDTHS = [13, 21, 7, 5, 8, 18, 8, 6]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def text_table(header: list[str], rows: list[list[str]], limits: list[int] | None = None) -> str:
    limits = limits or [WIDTH] * len(header)
    cells = [[_clip(str(x), w) for x, w in zip(r, limits)] for r in [header, *rows]]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    numeric = [k >= 2 and all(_numeric(r[k]) for r in cells[1:]) for k in range(len(header))]

    def line(r: list[str]) -> str:
        parts = [
            c.rjust(w) if numeric[k] else c.ljust(w) for k, (c, w) in enumerate(zip(r, widths))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *map(line, cells[1:])])


def _numeric(s: str) -> bool:
    return s == "" or s == "—" or s.replace(",", "").replace(".", "").rstrip("×").isdigit()


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ") or [
        ""
    ]


def _check_lines(report: Report) -> list[str]:
    """Measured checks with their figures; the unchecked ones grouped by the reason."""
    out: list[str] = []
    unchecked: dict[str, list[str]] = {}
    for c in report.checks:
        if c.status == "not checked":
            unchecked.setdefault(c.detail, []).append(c.name)
            continue
        out += _wrap(f"{c.status:<12} {c.name}: {measured(c)}")
        error = f" [error: {c.error}]" if c.error else ""
        out += _wrap(f"{c.figure}. {c.detail}{error}", "    ")
    for reason, names in unchecked.items():
        out += _wrap(f"not checked ({reason}): {', '.join(names)}")
    return out


def render_text(report: Report) -> str:
    out = [*_wrap("conductor-store bench -- " + "; ".join(machine_lines(report)[:1]))]
    for line in machine_lines(report)[1:]:
        out += _wrap(line, "  ")
    out += _wrap(
        "ratio = Store speed ÷ reference speed (1.00× = as fast), the median of "
        "per-round ratios; values are medians of calibrated rounds."
    )
    for kind, title in SECTIONS:
        found = report.of_kind(kind)
        if found:
            table = comparison_rows(found, short=True)
            out += ["", title + ":", text_table(COMPARISON_HEADER, table, COMPARISON_WIDTHS)]
    if report.scaling:
        header, rows = scaling_table(report)
        out += [
            "",
            "How costs grow with the number of records (Store, µs per operation):",
            text_table(header, rows, [14, 7] + [12] * (len(header) - 2)),
        ]
    if report.storage:
        out += [
            "",
            *_wrap(STORAGE_TITLE + ":"),
            text_table(STORAGE_HEADER, storage_rows(report), [13, 7, 7, 12, 12, 9, 12, 8]),
            "",
            COMMIT_TITLE + ":",
            text_table(COMMIT_HEADER, commit_rows(report), [13, 8, 8, 8, 8, 8, 10]),
        ]
    if report.checks:
        out += ["", f"Checks ({check_summary(report.checks)}):", *_check_lines(report)]
    errs = error_lines(report)
    if errs:
        out += ["", "Errors (measurements skipped):"]
        for e in errs:
            out += _wrap(e, "  ")
    return "\n".join(out)
