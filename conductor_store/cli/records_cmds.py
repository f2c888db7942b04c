"""The orchestrator records: ``stats`` and ``init-schema``.

Both run on the records layer (``conductor_store.records`` and the repositories a Store
exposes: ``store.workflow``, ``store.tasks``, ``store.audit``, ``store.budget``); in a build
without it they say so in one line and exit 3.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import click

from . import output
from .output import json_option, open_store, project_option, url_option

REPOSITORIES = {
    "workflow": "get_summary",
    "tasks": "get_progress",
    "audit": "get_statistics",
    "budget": "get_summary",
}


def plain(value: Any) -> Any:
    """Dataclasses, named tuples and objects with ``as_dict`` as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    for name in ("as_dict", "_asdict", "model_dump", "dict"):
        method = getattr(value, name, None)
        if callable(method) and not isinstance(value, dict):
            return plain(method())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def collect(store: Any) -> dict:
    out = {}
    for repo, method in REPOSITORIES.items():
        fn = getattr(getattr(store, repo, None), method, None)
        if fn is None:
            output.unavailable(f"stats (store.{repo}.{method})")
        out[repo] = plain(fn())
    return out


@click.command()
@url_option
@project_option
@json_option
def stats(url: str | None, project: str, as_json: bool) -> None:
    """Workflow state, task progress, audit statistics and budget of one project."""
    with open_store(url, project) as store:
        report = collect(store)
    if as_json:
        click.echo(output.dumps(report))
        return
    render(report)


def render(r: dict) -> None:
    w, t, a, b = r["workflow"], r["tasks"], r["audit"], r["budget"]
    click.echo("Workflow State")
    if w.get("status") == "not_initialized":
        click.echo("  not initialized")
    else:
        done = w.get("completed_phases")
        done = len(done) if isinstance(done, list) else done
        click.echo(
            f"  phase {w.get('current_phase')}, completed {done}/{w.get('total_phases', 5)}"
            f", iterations {w.get('iteration_count')}, mode {w.get('execution_mode')}"
        )
    click.echo("Tasks")
    rate = t.get("completion_rate") or 0
    click.echo(
        f"  total {t.get('total')}, completed {t.get('completed')}, pending "
        f"{t.get('pending')}, failed {t.get('failed')}, completion {rate:.0%}"
    )
    click.echo("Audit Trail")
    click.echo(
        f"  invocations {a.get('total')}, success rate {a.get('success_rate') or 0:.0%}, "
        f"total duration {output.duration(a.get('total_duration_seconds'))}"
    )
    _by("agent", a.get("by_agent"))
    click.echo("Budget")
    click.echo(
        f"  total cost ${b.get('total_cost_usd') or 0:.4f}, tokens "
        f"{b.get('total_tokens_input') or 0} in / {b.get('total_tokens_output') or 0} out"
    )
    _by("agent", b.get("by_agent"))
    _by("model", b.get("by_model"))  # fmt: skip


def _by(what: str, groups: Any) -> None:
    if isinstance(groups, dict) and groups:
        rows = [{what: k, **(v if isinstance(v, dict) else {"value": v})}
                for k, v in groups.items()]  # fmt: skip
        click.echo("  " + output.table(rows).replace("\n", "\n  "))


@click.command(name="init-schema")
@url_option
@project_option
@json_option
def init_schema(url: str | None, project: str, as_json: bool) -> None:
    """Declare the orchestrator records' indexes and settings (safe to run twice)."""
    try:
        records = importlib.import_module("conductor_store.records")
    except ImportError:
        records = None
    ensure = getattr(records, "ensure_schema", None)
    if ensure is None:
        output.unavailable("init-schema (conductor_store.records.ensure_schema)")
    with open_store(url, project) as store:
        result = plain(ensure(store))
        indexes = [list(map(str, i)) for i in store.backend.indexes()]
    if as_json:
        click.echo(output.dumps({"project": project, "result": result, "indexes": indexes}))
        return
    click.echo(f"schema ready in project {project!r}: {len(indexes)} indexes")
    for index in indexes:
        click.echo(f"  {' '.join(index)}")
