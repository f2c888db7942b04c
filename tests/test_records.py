"""Records parts that do not depend on a backend: the seed's "Python API" example (sync and
async), the module-level helpers, timestamps, the built-in embedding, the schema, the
dataclasses. (Every repository method on every backend is in the conformance suite.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

import conductor_store as cs
from conductor_store import ValidationError
from conductor_store.records import (
    REPOSITORIES,
    TABLES,
    Task,
    ensure_schema,
    index_specs,
    repository_class,
)
from conductor_store.records.embedding import DIMENSIONS, embed_text
from conductor_store.records.factories import HELPERS
from conductor_store.records.timeutil import from_iso, to_iso

#: the seed's "Python API" example, verbatim but for its import line (seeds/000_*.txt)
SEED_EXAMPLE = """
from {module} import (
    is_surrealdb_enabled,
    get_audit_repository,
    get_workflow_repository,
    get_task_repository,
)

# Check if enabled
if is_surrealdb_enabled():
    # Get repositories
    audit = get_audit_repository("my-project")
    workflow = get_workflow_repository("my-project")
    tasks = get_task_repository("my-project")

    # Create audit entry
    entry = await audit.create_entry(
        agent="claude",
        task_id="T1",
        prompt="Implement feature X",
    )

    # Update with result
    await audit.update_result(
        entry.id,
        success=True,
        exit_code=0,
        duration_seconds=45.2,
        cost_usd=0.05,
    )

    # Get statistics
    stats = await audit.get_statistics()
    print(f"Success rate: {{stats.success_rate:.1%}}")
"""


def _run_example(url: str, *, asynchronous: bool) -> str:
    code = SEED_EXAMPLE.format(module="conductor_store.aio" if asynchronous else "conductor_store")
    if asynchronous:  # top-level await, as in the seed: run it as a coroutine's body
        code = "import asyncio\n\nasync def main():\n" + textwrap.indent(code, "    ")
        code += "\n    from conductor_store.aio import close_repositories\n"
        code += "    await close_repositories()\n\nasyncio.run(main())\n"
    else:  # the sync API: the same calls without ``await``
        code = (
            code.replace("await ", "")
            + "\nimport conductor_store\nconductor_store.close_repositories()\n"
        )
    env = {k: v for k, v in os.environ.items() if k not in ("SURREAL_URL",)}
    env["CONDUCTOR_STORE_URL"] = url
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_seed_python_api_example_runs(tmp_path, asynchronous):
    """The seed's example, with only its import line changed, prints the success rate on a
    SurrealDB URL (embedded on disk) and does nothing on JSON files."""
    out = _run_example(f"surrealkv://{tmp_path}/db", asynchronous=asynchronous)
    assert out == "Success rate: 100.0%\n"
    assert _run_example(f"surrealkv://{tmp_path}/db", asynchronous=asynchronous) == (
        "Success rate: 100.0%\n"
    )
    with cs.open(f"surrealkv://{tmp_path}/db", project="my-project") as store:
        assert store.audit.get_statistics().total == 2
    assert _run_example(f"json://{tmp_path}/json", asynchronous=asynchronous) == ""


def test_helpers_cache_one_store_per_project(monkeypatch, tmp_path):
    """Every get_*_repository helper exists sync and async; one project's repositories share
    one store; is_surrealdb_enabled follows the configured URL."""
    from conductor_store import aio

    monkeypatch.setenv("CONDUCTOR_STORE_URL", f"json://{tmp_path}/data")
    try:
        assert set(HELPERS.values()) == set(REPOSITORIES)
        for name in HELPERS:
            assert callable(getattr(cs, name)) and callable(getattr(aio, name))
        tasks = cs.get_task_repository("p1")
        assert cs.get_task_repository("p1") is tasks
        assert cs.get_audit_repository("p1").store is tasks.store
        assert cs.get_task_repository("p2").store is not tasks.store
        tasks.create_task("T1", "t")
        assert cs.get_task_repository("p2").get_task("T1") is None
        assert cs.is_surrealdb_enabled() is False and aio.is_surrealdb_enabled() is False
        for url in ("mem://", "surrealkv:///x", "ws://h:8000", "wss://h"):
            monkeypatch.setenv("CONDUCTOR_STORE_URL", url)
            assert cs.is_surrealdb_enabled() is True
    finally:
        cs.close_repositories()


def test_timestamps_have_one_sortable_format():
    """Stored timestamps are UTC ISO-8601 with microseconds and Z; other zones convert;
    naive datetimes are refused naming the value; the text sorts like the times."""
    moment = datetime(2026, 12, 1, 10, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert to_iso(moment) == "2026-12-01T09:00:00.000005Z"
    assert from_iso(to_iso(moment)) == moment and from_iso(to_iso(moment)).tzinfo == timezone.utc
    with pytest.raises(ValidationError, match="2026-01-01T00:00:00.*naive"):
        to_iso(datetime(2026, 1, 1))
    times = [
        datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=s)
        for s in (0, 0.5, 9, 10, 1e6)
    ]
    assert sorted(to_iso(t) for t in reversed(times)) == [to_iso(t) for t in times]


def test_builtin_embedding_is_deterministic_across_processes():
    """The text embedding is a unit vector, the same in another process (no hash seed)."""
    text = "Connection refused: database at localhost:5432"
    vector = embed_text(text)
    assert len(vector) == DIMENSIONS
    assert sum(v * v for v in vector) == pytest.approx(1.0, abs=1e-4)
    code = (
        "import json; from conductor_store.records.embedding import embed_text; "
        f"print(json.dumps(embed_text({text!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout) == vector
    assert embed_text("!!!") == [0.0] * DIMENSIONS


def test_schema_covers_every_repository_table(tmp_path):
    """schema.TABLES names every table the repositories use; ensure_schema declares its
    indexes on a store (unique ones only where the backend enforces them)."""
    for name in REPOSITORIES:
        assert repository_class(name).table in TABLES
    specs = index_specs()
    assert {s.table for s in specs} <= set(TABLES)
    assert any(
        s.table == "tasks" and s.fields == ("status", "priority_rank", "created_at") for s in specs
    )
    with cs.open(f"json://{tmp_path}/data") as store:
        declared = ensure_schema(store)
        assert {s for s in declared if not s.unique} == {s for s in specs if not s.unique}
        assert ensure_schema(store) == declared  # idempotent


def test_import_does_not_load_the_repositories():
    """``import conductor_store`` stays fast: the repository modules load on first use."""
    code = (
        "import sys, conductor_store; "
        "print(sorted(m for m in sys.modules if m.startswith('conductor_store.records')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout.replace("'", '"')) == [
        "conductor_store.records",
        "conductor_store.records.factories",
    ]


def test_records_round_trip_through_to_dict():
    """from_doc(to_dict()) gives the record back; to_dict is JSON-ready."""
    with cs.open("mem://") as store:
        task = store.tasks.create_task("T1", "t", dependencies=[], acceptance_criteria=["a"])
        assert Task.from_doc(task.to_dict()) == task
        json.dumps(task.to_dict())
        stats = store.audit.get_statistics()
        assert json.loads(json.dumps(stats.to_dict()))["by_agent"] == {}
