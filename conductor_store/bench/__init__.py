"""The benchmark behind ``conductor-store bench`` and ``benchmarks/`` (pytest-benchmark).

Every figure is a comparison made in one run: the Store doing some work beside the raw engine
underneath it doing the same work, and beside ``sqlite3`` (WAL). Each timed round is
calibrated to last ≥ 200 ms; the references and the Store are timed back to back, round after
round; a rate is the median round, a ratio the median of per-round ratios.

* :mod:`.engines` -- the Store and the raw references, one small interface;
* :mod:`.workloads` -- ``run(engine, n)``: the operations and the queries;
* :mod:`.measure` -- comparisons, start-up, concurrent writers, scaling, history;
* :mod:`.checks` -- the figures the issues name, each against its goal;
* :mod:`.render` (terminal) and :mod:`.docs` (the tables of ``docs/benchmarks.md``);
* :mod:`.session` / :mod:`.plan` -- targets, engines and the order of a run;
* :mod:`.worker` -- one concurrent writer process (internal).

``conductor-store bench --full --write-docs docs/benchmarks.md`` regenerates the docs' tables.
Heavy engines (``surrealdb``, ``tinydb``) are imported only when benchmarked.
"""

from __future__ import annotations

from typing import Iterable

from ..urls import redact_url
from .results import Report
from .session import Progress, Session
from .settings import Settings
from .targets import Target, builtin_targets, target_from_url

__all__ = [
    "Report",
    "Session",
    "Settings",
    "Target",
    "make_session",
    "run",
    "scrub",
    "builtin_targets",
    "target_from_url",
]


def make_session(
    urls: Iterable[str] = (),
    *,
    records: int | None = None,
    quick: bool = False,
    full: bool = False,
    builtins: bool | None = None,
    directory: str | None = None,
) -> Session:
    """``urls`` replace the built-in targets unless ``builtins`` is True; ``directory``: where
    the run's temporary folder goes (default: the system's temporary directory)."""
    urls = list(urls)
    targets = [target_from_url(u) for u in urls]
    if builtins or (builtins is None and not urls):
        targets = builtin_targets() + targets
    settings = Settings.make(records=records, quick=quick, full=full)
    return Session(targets, settings, directory)


def run(
    urls: Iterable[str] = (),
    *,
    records: int | None = None,
    quick: bool = False,
    full: bool = False,
    progress: Progress | None = None,
    directory: str | None = None,
) -> Report:
    session = make_session(urls, records=records, quick=quick, full=full, directory=directory)
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
