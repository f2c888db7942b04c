"""The pytest plugin (entry point ``pytest11``): ``pytest --conductor-store-url URL`` runs the
whole conformance suite on ``URL`` instead of the project's own tests, with
``--conductor-store-capability NAME`` (or ``no-NAME``) declaring what cannot be detected.

Kept free of heavy imports: pytest loads it in every run of every project where
conductor-store is installed, and it does nothing unless its option is given.
"""

from __future__ import annotations

import json
import os


def pytest_addoption(parser) -> None:
    group = parser.getgroup("conductor-store conformance")
    group.addoption(
        "--conductor-store-url",
        metavar="URL",
        help="run the conductor-store conformance suite on this URL ({tmp}: a fresh directory "
        "per test, {unique}: a fresh token)",
    )
    group.addoption(
        "--conductor-store-capability",
        action="append",
        default=[],
        metavar="NAME",
        help="declare a capability (network, credentials, ...) or, as no-NAME, its absence",
    )


def pytest_configure(config) -> None:
    # the suite marks its long trials; a project running it must not be warned about the mark
    config.addinivalue_line("markers", "slow: long-running crash and concurrency trials")
    template = config.getoption("--conductor-store-url")
    if not template:
        return
    from .conformance.runner import CAPABILITIES_ENV, URL_ENV, capability_flags

    flags = capability_flags(template, config.getoption("--conductor-store-capability"))
    os.environ[URL_ENV] = template
    os.environ[CAPABILITIES_ENV] = json.dumps(flags)
    config.args[:] = [os.path.join(os.path.dirname(__file__), "conformance", "urlsuite.py")]
