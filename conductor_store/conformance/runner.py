"""Run the shipped suite on any URL and report by area: what ``conductor-store conformance``
and the pytest plugin use.

Capabilities are detected where a probe can tell (``persistent``: data is there after a
reopen; ``shared_location``: a second store on the URL sees the first one's commit;
``multiprocess``: a child process can commit while this one has the store open; ``indexes``:
a unique index is accepted) and declared where it cannot (``network``, ``credentials``:
``--capability NAME``; ``--capability no-NAME`` switches a detected one off).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import StoreError, ValidationError
from ..store import open as open_store
from ..urls import redact_url

DECLARED = ("network", "credentials")
URL_ENV = "CONDUCTOR_STORE_CONFORMANCE_URL"
CAPABILITIES_ENV = "CONDUCTOR_STORE_CONFORMANCE_CAPABILITIES"
_SKIP_FLAG = re.compile(r"backend declares (\w+) = False")

#: area of a test: by words in its name first, then by the module it comes from
_NAME_AREAS = (
    ("process", "multi-process"),
    ("isolat", "isolation"),
    ("credential", "credentials"),
    ("password", "credentials"),
    ("secret", "credentials"),
)
_MODULE_AREAS = {
    "crud": "CRUD",
    "values": "values",
    "validation_tests": "validation",
    "queries": "queries",
    "transactions": "transactions",
    "changelog": "change log",
    "persistence": "persistence",
    "lifecycle": "lifecycle",
    "network": "network",
    "sql": "SQL queries",
    "watch": "watch",
    "records": "records",
    "records_audit": "records",
    "records_concurrency": "records",
    "integrity": "integrity",
    "stateful": "model-based",
}


def area_of(module: str, test_name: str) -> str:
    for word, area in _NAME_AREAS:
        if word in test_name:
            return area
    short = module.rsplit(".", 1)[-1]
    return _MODULE_AREAS.get(short, short.replace("_", " "))


# -- capabilities ----------------------------------------------------------------------------
class _Location:
    """A fresh expansion of the URL template, with its temporary directory removed after."""

    def __init__(self, template: str) -> None:
        self.tmp = tempfile.mkdtemp(prefix="cs-conformance-")
        self.url = template.replace("{tmp}", self.tmp).replace("{unique}", os.urandom(8).hex())

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _reopens(url: str) -> bool:
    with open_store(url) as store:
        store.insert("probe", {"v": 1}, id="p")
    with open_store(url) as store:
        return store.get("probe", "p") is not None


def _shares(url: str) -> bool:
    with open_store(url) as first, open_store(url) as second:
        first.insert("probe", {"v": 1}, id="p")
        return second.get("probe", "p") is not None


_CHILD = "import sys, conductor_store as cs; cs.open(sys.argv[1]).insert('probe', {'v': 2}, id='c')"


def _other_process_commits(url: str) -> bool:
    with open_store(url) as store:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, url], capture_output=True, timeout=120, check=False
        )
        return done.returncode == 0 and store.get("probe", "c") is not None


def _unique_indexes(url: str) -> bool:
    with open_store(url) as store:
        try:
            store.ensure_index("probe", ["v"], unique=True)
        except StoreError:
            return False
        return True


PROBES: dict[str, Callable[[str], bool]] = {
    "persistent": _reopens,
    "shared_location": _shares,
    "multiprocess": _other_process_commits,
    "indexes": _unique_indexes,
}


def capability_flags(template: str, declared: list[str] | tuple[str, ...] = ()) -> dict[str, bool]:
    """Every flag's value for the URL: probed, then overridden by ``declared`` names."""
    known = sorted({*DECLARED, *PROBES})
    overrides: dict[str, bool] = {}
    for name in declared:  # checked before the (slower) probes run
        flag = name.removeprefix("no-").replace("-", "_")
        if flag not in known:
            raise ValidationError(
                f"unknown capability {name!r}; known: {', '.join(known)} (or no-NAME)"
            )
        overrides[flag] = not name.startswith("no-")
    flags = dict.fromkeys(DECLARED, False)
    for name, probe in PROBES.items():
        if name not in overrides:
            with _Location(template) as url:
                flags[name] = probe(url)
    return {**flags, **overrides}


# -- running and reporting -------------------------------------------------------------------
@dataclass
class Outcome:
    test: str
    area: str
    promise: str
    outcome: str  # "passed" | "failed" | "skipped"
    detail: str = ""


@dataclass
class Report:
    url: str
    capabilities: dict[str, bool]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.outcome == "failed"]

    def areas(self) -> dict[str, Counter]:
        table: dict[str, Counter] = {}
        for o in self.outcomes:
            table.setdefault(o.area, Counter())[o.outcome] += 1
        return dict(sorted(table.items()))

    def verdict(self) -> str:
        counts = Counter(o.outcome for o in self.outcomes)
        skipped_by = sorted({o.detail for o in self.outcomes if o.outcome == "skipped"})
        summary = (
            f"{counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped by capability"
            + (f" ({', '.join(skipped_by)})" if skipped_by else "")
        )
        if not self.outcomes:
            return "FAIL: no test ran"
        return ("PASS: " if not counts["failed"] else "FAIL: ") + summary

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "capabilities": self.capabilities,
            "areas": {a: dict(c) for a, c in self.areas().items()},
            "failures": [o.__dict__ for o in self.failed],
            "skipped": [
                {"test": o.test, "area": o.area, "capability": o.detail}
                for o in self.outcomes
                if o.outcome == "skipped"
            ],
            "verdict": self.verdict(),
            "passed": bool(self.outcomes) and not self.failed,
        }


class _Collector:
    """A pytest plugin object gathering one Outcome per test."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.items: dict[str, Any] = {}

    def pytest_collection_modifyitems(self, items: list) -> None:
        self.items = {item.nodeid: item for item in items}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        item = self.items.get(report.nodeid)
        function = getattr(item, "function", None)
        name = getattr(item, "originalname", None) or report.nodeid.rsplit("::", 1)[-1]
        module = getattr(function, "__module__", "") or ""
        outcome = Outcome(
            test=name,
            area=area_of(module, name),
            promise=" ".join((getattr(function, "__doc__", None) or "").split()),
            outcome=report.outcome,
        )
        if report.skipped:
            text = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
            match = _SKIP_FLAG.search(text)
            outcome.detail = match.group(1) if match else text
        elif report.failed:
            lines = str(report.longreprtext).splitlines()
            errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
            outcome.detail = "\n".join(errors[:6]) or (lines[-1] if lines else "")
        self.report.outcomes.append(outcome)


def run(
    template: str,
    *,
    capabilities: list[str] | tuple[str, ...] = (),
    keyword: str | None = None,
    verbose: bool = False,
) -> Report:
    """Detect the URL's capabilities, run the suite on it and return the report."""
    import pytest

    flags = capability_flags(template, capabilities)
    report = Report(redact_url(template), flags)
    os.environ[URL_ENV] = template
    os.environ[CAPABILITIES_ENV] = json.dumps(flags)
    with tempfile.TemporaryDirectory(prefix="cs-conformance-") as root:
        ini = os.path.join(root, "pytest.ini")
        with open(ini, "w") as f:  # the suite's own settings, not those of the current project
            f.write("[pytest]\n")
        args = [os.path.join(os.path.dirname(__file__), "urlsuite.py"), "-c", ini]
        args += ["--rootdir", root, "-p", "no:cacheprovider"]
        args += ["-v"] if verbose else ["-p", "no:terminal"]
        if keyword:
            args += ["-k", keyword]
        pytest.main(args, plugins=[_Collector(report)])
    return report
