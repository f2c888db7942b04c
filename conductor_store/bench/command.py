"""What ``conductor-store bench`` does (the click command in ``cli.py`` only parses options).

Exit codes: 0 every measured check reached; 1 a URL or backend failed (one line on stderr);
3 a check was NOT reached (each named on stderr)."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Callable, Iterable

from ..urls import redact_url
from . import make_session, scrub
from .checks import evaluate_checks, misses, store_failures
from .data import TABLE
from .results import Report, from_dict, to_dict
from .session import Session

EXIT_FAILED, EXIT_MISSED = 1, 3


class BenchError(Exception):
    """A one-line reason the run could not be done (bad URL, unreadable report...)."""


def probe(urls: Iterable[str]) -> None:
    """Open each URL once before measuring anything: a bad one fails fast, in one line."""
    import conductor_store

    for url in urls:
        try:
            store = conductor_store.open(url, project=f"bench-probe-{os.getpid()}")
            try:
                store.count(TABLE)
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 -- any failure: the URL cannot be benchmarked
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BenchError(f"cannot benchmark {redact_url(url)}: {reason}") from None


def new_session(
    urls: tuple[str, ...], records: int | None, quick: bool, full: bool, directory: str | None
) -> Session:
    try:
        return make_session(urls, records=records, quick=quick, full=full, directory=directory)
    except OSError as exc:  # the run's folder cannot be made there
        raise BenchError(f"cannot use --dir {directory}: {exc.strerror or exc}") from None


def load_report(path: str) -> Report:
    try:
        with open(path) as f:
            report = from_dict(Report, json.load(f))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise BenchError(f"cannot read the report {path}: {exc}") from None
    report.checks = evaluate_checks(report)
    return report


def progress_printer(urls: tuple[str, ...]) -> Callable[[int, int, str], None] | None:
    """A one-line progress display on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return None
    t0 = time.monotonic()

    def show(k: int, total: int, label: str) -> None:
        end = "\n" if k == total else ""
        spent = int(time.monotonic() - t0)
        text = scrub(label, urls)[:64]
        sys.stderr.write(f"\r\033[K[{k:>3}/{total} {spent // 60:>2}m{spent % 60:02d}s] {text}{end}")
        sys.stderr.flush()

    return show


def docs_command(quick: bool, full: bool, records: int | None) -> str:
    flags = " --quick" * quick + " --full" * full + (f" --records {records}" if records else "")
    return f"conductor-store bench{flags} --write-docs docs/benchmarks.md"


def bench(
    *,
    urls: tuple[str, ...],
    records: int | None,
    quick: bool,
    full: bool,
    as_json: bool,
    write_docs: str | None,
    from_json: str | None,
    notes: tuple[str, ...],
    echo: Callable[..., None],
    directory: str | None = None,
) -> int:
    """Run (or load) a report, print it, write the docs if asked; return the exit code."""
    from .docs import write_docs as write
    from .render import render_text

    if from_json:
        report = load_report(from_json)
    else:
        probe(urls)
        session = new_session(urls, records, quick, full, directory)
        try:
            report = session.run(None if as_json else progress_printer(urls))
        finally:
            session.close()
    if write_docs:
        write(write_docs, report, docs_command(quick, full, records), list(notes))
    text = (
        json.dumps(to_dict(report), indent=2, ensure_ascii=False)
        if as_json
        else render_text(report)
    )
    echo(scrub(text, urls))
    return verdict(report, urls, echo)


def verdict(report: Report, urls: Iterable[str], echo: Callable[..., None]) -> int:
    failed, missed = store_failures(report), misses(report.checks)
    for line in failed:
        echo(scrub(f"Error: {line}", urls), err=True)
    if missed:
        names = ", ".join(c.name for c in missed)
        echo(scrub(f"{len(missed)} check(s) NOT reached: {names}", urls), err=True)
    return EXIT_FAILED if failed else EXIT_MISSED if missed else 0
