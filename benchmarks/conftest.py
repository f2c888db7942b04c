"""pytest-benchmark wiring for ``benchmarks/``: options, the shared bench session, the summary.

Run with ``pytest benchmarks/ --benchmark-only`` (not part of the default ``pytest`` run, whose
``testpaths`` is ``tests``). Options:

``--bench-url URL``    also measure this store URL (repeatable), e.g. a custom backend or a
                       remote ``ws://host:port`` SurrealDB;
``--bench-no-builtins`` measure only the ``--bench-url`` URLs;
``--bench-records N``  records per comparison (default 2000);
``--bench-full``       add the 100,000-record sizes;
``--bench-quick``      small counts (a smoke run);
``--bench-json FILE``  save the report (render it later with
                       ``conductor-store bench --from-json FILE --write-docs ...``);
``--bench-docs FILE``  replace the generated tables of a markdown page (``docs/benchmarks.md``).

The workloads, engines, measurements and checks all live in :mod:`conductor_store.bench`; these
files only hand each measurement's Store rounds to ``benchmark.pedantic`` (with the references'
rounds as the per-round setup, so the two interleave) and print the comparison at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_store import bench
from conductor_store.bench.docs import write_docs
from conductor_store.bench.render import render_text
from conductor_store.bench.results import to_dict

_SESSION: bench.Session | None = None


def pytest_addoption(parser):
    group = parser.getgroup("conductor-store benchmarks")
    group.addoption(
        "--bench-url",
        action="append",
        default=[],
        metavar="URL",
        help="also benchmark this store URL (repeatable)",
    )
    group.addoption(
        "--bench-no-builtins", action="store_true", help="benchmark only the --bench-url URLs"
    )
    group.addoption(
        "--bench-records", type=int, default=None, metavar="N", help="records per comparison"
    )
    group.addoption("--bench-full", action="store_true", help="add the 100,000-record sizes")
    group.addoption("--bench-quick", action="store_true", help="small counts (smoke run)")
    group.addoption("--bench-json", metavar="FILE", help="write the JSON report here")
    group.addoption("--bench-docs", metavar="FILE", help="replace the tables of this page")


def get_session(config) -> bench.Session:
    global _SESSION
    if _SESSION is None:
        _SESSION = bench.make_session(
            config.getoption("--bench-url"),
            records=config.getoption("--bench-records"),
            quick=config.getoption("--bench-quick"),
            full=config.getoption("--bench-full"),
            builtins=not config.getoption("--bench-no-builtins"),
        )
    return _SESSION


@pytest.fixture(scope="session")
def bench_session(request) -> bench.Session:
    return get_session(request.config)


def pytest_generate_tests(metafunc):
    """``step`` is one planned measurement of the group the test function names in ``GROUP``."""
    if "step" not in metafunc.fixturenames:
        return
    group = metafunc.module.GROUP[metafunc.function.__name__]
    steps = [s for s in get_session(metafunc.config).plan() if s.group in group]
    metafunc.parametrize("step", steps, ids=[_id(s.label) for s in steps])


def _id(label: str) -> str:
    return label.replace(": ", "-").replace(" ", "-").replace(",", "")


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    report = None if _SESSION is None else _SESSION.report
    if report is None or not (report.comparisons or report.scaling or report.storage):
        return
    _SESSION.close_engines()
    report = _SESSION.finish()
    urls = config.getoption("--bench-url")
    terminalreporter.write_sep("=", "conductor-store: Store vs raw engine")
    terminalreporter.write_line(bench.scrub(render_text(report), urls))
    if config.getoption("--bench-json"):
        text = json.dumps(to_dict(report), indent=2, ensure_ascii=False)
        Path(config.getoption("--bench-json")).write_text(bench.scrub(text, urls))
    if config.getoption("--bench-docs"):
        write_docs(config.getoption("--bench-docs"), report, "pytest benchmarks/", [])


def pytest_unconfigure(config):
    global _SESSION
    if _SESSION is not None:
        _SESSION.close()
        _SESSION = None
