"""Loaded with ``-p tests.mutants.suite_plugin`` by the mutant run: records, per class, the
first test that failed, and writes it as JSON to the file named by ``CS_MUTANT_REPORT``."""

from __future__ import annotations

import json
import os

import pytest

CAUGHT: dict[str, str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if outcome.get_result().failed:
        CAUGHT.setdefault(item.cls.__name__.removeprefix("TestMutant_"), item.originalname)


def pytest_sessionfinish(session):
    with open(os.environ["CS_MUTANT_REPORT"], "w") as f:
        json.dump(CAUGHT, f)
