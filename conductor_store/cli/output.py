"""What every command shares: common options, output formats, units, errors and progress.

Formats: ``--json`` (one JSON document), ``--nl`` (one JSON object per line), ``--csv`` and, by
default, an aligned table for people. Errors are one line on stderr (``error: ...``) and a
non-zero exit; passwords are masked wherever they could appear.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import time
from typing import Any, Callable, Iterable, NoReturn, Sequence

import click

URL_HELP = (
    "Store URL: json:///path, a plain path, mem://NAME, surrealkv:///path, ws://host:port "
    "(default: $CONDUCTOR_STORE_URL, else JSON files in the user data directory)."
)
#: exit codes: 1 an error, 130 interrupted (Ctrl-C); click's usage errors are 2
EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


# -- options ------------------------------------------------------------------------------
def url_option(fn: Callable) -> Callable:
    return click.option("--url", default=None, metavar="URL", help=URL_HELP)(fn)


def project_option(fn: Callable) -> Callable:
    return click.option(
        "--project", default="default", show_default=True, help="Project (one store's data)."
    )(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(fn)


def format_options(fn: Callable) -> Callable:
    """``--json``, ``--nl``, ``--csv`` (default: an aligned table); gives ``fmt``."""
    for flag, help_text in (
        ("csv", "Comma-separated values with a header line."),
        ("nl", "Newline-delimited JSON: one object per line."),
        ("json", "A JSON array."),
    ):
        fn = click.option(f"--{flag}", "fmt", flag_value=flag, help=help_text)(fn)
    return fn


def open_store(url: str | None, project: str = "default") -> Any:
    from ..store import open as open_store_

    return open_store_(url, project=project)


# -- secrets ------------------------------------------------------------------------------
_URL_PASS = re.compile(r"(://[^:/@\s]*:)([^@/\s]+)(@)")
_SECRET_ENV = ("SURREAL_PASS",)


def secrets(argv: Sequence[str] = ()) -> list[str]:
    """Passwords that must never be printed: from URLs on the command line and the env."""
    found = [os.environ[name] for name in _SECRET_ENV if os.environ.get(name)]
    for arg in argv:
        found += [m.group(2) for m in _URL_PASS.finditer(str(arg))]
    return [s for s in found if s]


def scrub(text: str, argv: Sequence[str] = ()) -> str:
    text = _URL_PASS.sub(r"\1***\3", text)
    for secret in sorted(secrets(argv), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# -- errors -------------------------------------------------------------------------------
def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


# -- units --------------------------------------------------------------------------------
def size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{sec:02d}s"


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


# -- rendering ----------------------------------------------------------------------------
def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """An aligned text table; numbers right-aligned."""
    if columns is None:
        columns = _columns(rows)
    grid = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(line[i]) for line in grid]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(r.get(c)) for r in rows) and rows for c in columns]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(values) for values in grid]
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _columns(rows: Iterable[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)


def emit_rows(rows: Sequence[dict], fmt: str | None, columns: Sequence[str] | None = None) -> None:
    """Print records as JSON, NL-JSON, CSV or (default) a table."""
    if fmt == "json":
        click.echo(dumps(list(rows)))
    elif fmt == "nl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        cols = list(columns or _columns(rows))
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        writer.writerows([cell(r.get(c)) for c in cols] for r in rows)
        click.echo(buf.getvalue(), nl=False)
    elif rows:
        click.echo(table(rows, columns))
    else:
        click.echo("(no rows)")


# -- progress -----------------------------------------------------------------------------
class Progress:
    """``done/total pct rate ETA`` on stderr, redrawn in place -- only when stdout is a
    terminal (or ``force``); silent otherwise. Call it with the new ``done`` count."""

    def __init__(self, label: str, total: int | None = None, *, force: bool = False) -> None:
        self.label = label
        self.total = total
        self.enabled = force or sys.stdout.isatty()
        self.start = time.monotonic()
        self._last = 0.0
        self.done = 0

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if self.enabled and (now - self._last >= 0.1 or done == self.total):
            self._last = now
            click.echo("\r" + self.line(now) + "\033[K", err=True, nl=False)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.start, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label} {self.done}"
        if self.total:
            pct = 100.0 * self.done / self.total
            eta = (self.total - self.done) / rate if rate > 0 else None
            text += f"/{self.total} {pct:5.1f}%  {rate:,.0f}/s  ETA {duration(eta)}"
        else:
            text += f"  {rate:,.0f}/s"
        return text

    def close(self) -> None:
        if self.enabled:
            click.echo("", err=True)
