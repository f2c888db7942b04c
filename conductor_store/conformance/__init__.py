"""The conformance suite every backend must pass -- ours and third parties'.

Run it on your backend by subclassing :class:`StoreConformance` in a pytest module and saying
how to make a fresh location::

    from conductor_store.conformance import StoreConformance

    class TestMyBackend(StoreConformance):
        def make_url(self, tmp_path):
            return f"mybackend://{tmp_path}/data"

Capability flags (class attributes) switch off the tests of optional features your backend
does not have (the first four are on by default, ``network`` and ``credentials`` off); the
skipped tests then say which flag skipped them:

``persistent``
    data survives ``close()`` and a new ``open()`` of the same URL (reopen tests);
``shared_location``
    two stores opened on one URL in one process see each other's commits (two-store and
    project-isolation tests);
``multiprocess``
    other processes can open the same location at the same time (child-process tests; set
    ``child_setup`` if a child needs an import to know your URL scheme);
``indexes``
    ``ensure_index(..., unique=True)`` is enforced (unique-index tests); without it, a unique
    index may be refused with ``StoreError``, and non-unique ones must still be accepted;
``network`` (default ``False``)
    the store talks to a server over connections (reconnect, restart, pool and unreachable-server
    tests). Implement the hooks ``drop_connections()`` (make the server drop every open client
    connection now) and ``restart_server()`` (stop it and start it again at the same address,
    keeping its data); optionally ``server_connection_count()`` (connections the server has
    accepted so far; without it the several-connections test is skipped), ``pool_options(size)``
    (default ``{"pool_size": size}``) and ``unreachable_url(url)`` (default: a local port nothing
    listens on). A hook that cannot work against the server in use (e.g. a real server the tests
    do not control) may call ``pytest.skip(reason)``;
``credentials`` (default ``False``)
    the store signs in with a password or token (bad-credentials and never-shown-secret tests).
    Implement ``secret()`` (the password in use; it must be distinctive) and, unless the URL
    carries the password (the default then makes it wrong), ``bad_credentials_url(url)`` and/or
    ``bad_credentials_options()``.

The tests use only the public API. They are grouped by theme, one mixin per module:

=====================  ===========================================================
``crud``               single-record operations, ids, versions, compare-and-set, copies
``values``             exact round-trips: numbers, booleans, null, unicode, big documents
``validation_tests``   every validation rule, its message, nothing written on refusal
``queries``            find/count: where constructs, 3-valued logic, ordering, paging
``sql``                store.query: SELECT, GROUP BY, aggregates, NULLs, corpus vs a model
``transactions``       commit/rollback, read-your-writes, conflicts, isolation, atomic()
``changelog``          the change log and its sequence numbers
``persistence``        reopening, two stores on a location, other processes, projects
``lifecycle``          info(), close(), context manager, closed stores
``network``            reconnecting, restarts, the pool, bad credentials, hidden secrets
``watch``              watch/subscribe, resuming, other processes, retention, the monitor
``records*``           the orchestrator's repositories (``conductor_store.records``):
                       every method, bad input, statistics by hand, similarity,
                       checkpoints, claim_next and read-modify-write under 4 workers
``integrity``          all-or-nothing commits, dense numbers, write order, push-down agreement
``stateful``           random operation sequences (hypothesis) checked against a dict model
``indexes``            ensure_index()/indexes(): accepted, idempotent, unique ones enforced
``bad_input``          the bad-input corpus: 300+ wrong arguments, each refused as documented
=====================  ===========================================================

Every test's docstring states the promise it checks.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: public name -> the module of this package defining it. Imported on first use, so that
#: importing the runner or the CLI does not load the suite before pytest can rewrite its asserts.
EXPORTS = {
    "StoreConformance": "suite",
    "Harness": "harness",
    "CrudTests": "crud",
    "ValueTests": "values",
    "ValidationTests": "validation_tests",
    "QueryTests": "queries",
    "TransactionTests": "transactions",
    "ChangeLogTests": "changelog",
    "PersistenceTests": "persistence",
    "LifecycleTests": "lifecycle",
    "NetworkTests": "network",
    "SqlTests": "sql",
    "WatchTests": "watch",
    "RecordsTests": "records",
    "RecordsAuditTests": "records_audit",
    "RecordsConcurrencyTests": "records_concurrency",
    "IndexTests": "indexes",
    "BadInputTests": "bad_input",
    "IntegrityTests": "integrity",
    "StatefulTests": "stateful",
}

__all__ = sorted(EXPORTS)

if TYPE_CHECKING:
    from .suite import StoreConformance  # noqa: F401


def __getattr__(name: str) -> Any:
    module = EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _rewrite  # noqa: F401  (before the suite's modules are imported)

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
