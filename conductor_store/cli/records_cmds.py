"""The orchestrator records: ``stats`` and ``init-schema``.

``stats`` reads one project through its repositories (``store.workflow.get_summary()``,
``store.tasks.get_progress()``, ``store.audit.get_statistics()``,
``store.budget.get_summary()``) and shows them as the seed's ``db-cli stats`` does, with the
audit figures per agent and per model. ``init-schema`` declares the indexes of
``conductor_store.records.schema`` (``ensure_schema``) and says which are new.
"""

from __future__ import annotations

from typing import Any

import click

from . import output
from .output import json_option, open_store, project_option, url_option


def collect(store: Any) -> dict:
    """The figures ``stats`` shows, as plain JSON values."""
    return {
        "project": store.project,
        "workflow": store.workflow.get_summary(),
        "tasks": store.tasks.get_progress(),
        "audit": store.audit.get_statistics().to_dict(),
        "budget": store.budget.get_summary(),
    }


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
    click.echo("\n".join(render(report)))


def money(value: float | None) -> str:
    return f"${value or 0:,.4f}"


def percent(value: float | None) -> str:
    return f"{(value or 0) * 100:.1f}%"


def render(report: dict) -> list[str]:
    """The text of ``stats``: four blocks, as the seed's."""
    lines = [f"Project {report['project']}", "", "Workflow State"]
    lines += _workflow(report["workflow"])
    lines += ["", "Tasks"] + _tasks(report["tasks"])
    lines += ["", "Audit Trail"] + _audit(report["audit"])
    lines += ["", "Budget"] + _budget(report["budget"])
    return lines


def _workflow(w: dict) -> list[str]:
    if w.get("status") == "not_initialized":
        return ["  not initialized"]
    usage = w.get("token_usage") or {}
    return [
        f"  phase {w['current_phase']}, completed phases {w['completed_phases']}/"
        f"{w['total_phases']}, iterations {w['iteration_count']}, mode {w['execution_mode']}",
        f"  tokens {usage.get('tokens_input', 0):,} in / {usage.get('tokens_output', 0):,} out, "
        f"cost {money(usage.get('cost_usd'))}, git commits {w.get('total_commits', 0)}",
    ]


def _tasks(t: dict) -> list[str]:
    return [
        f"  total {t['total']}, completed {t['completed']}, pending {t['pending']}, "
        f"in progress {t['in_progress']}, failed {t['failed']}, "
        f"completion rate {percent(t['completion_rate'])}"
    ]


def _audit(a: dict) -> list[str]:
    lines = [
        f"  invocations {a['total']} finished ({a['pending_count']} pending), success rate "
        f"{percent(a['success_rate'])}, total duration "
        f"{output.duration(a['total_duration_seconds'])}, total cost {money(a['total_cost_usd'])}"
    ]
    for what in ("agent", "model"):
        groups = a.get(f"by_{what}") or {}
        if groups:
            rows = [_group_row(what, name, g) for name, g in groups.items()]
            lines += ["  " + line for line in output.table(rows).splitlines()]
    return lines


def _group_row(what: str, name: str, g: dict) -> dict:
    return {
        what: name,
        "runs": g["total"],
        "success": g["success_count"],
        "failed": g["failed_count"],
        "timeout": g["timeout_count"],
        "pending": g["pending_count"],
        "rate": percent(g["success_rate"]),
        "cost": money(g["total_cost_usd"]),
        "duration": output.duration(g["total_duration_seconds"]),
        "avg duration": output.duration(g["avg_duration_seconds"]),
    }


def _budget(b: dict) -> list[str]:
    lines = [
        f"  total cost {money(b['total_cost_usd'])} in {b['record_count']} records, tokens "
        f"{b['total_tokens_input']:,} in / {b['total_tokens_output']:,} out"
    ]
    for what in ("agent", "model"):
        groups = b.get(f"by_{what}") or {}
        if groups:
            rows = [{what: name, "cost": money(cost)} for name, cost in groups.items()]
            lines += ["  " + line for line in output.table(rows).splitlines()]
    return lines


# -- init-schema --------------------------------------------------------------------------
def spec_dict(spec: Any) -> dict:
    return {"table": spec.table, "fields": list(spec.fields), "unique": spec.unique}


def declare_schema(store: Any) -> dict:
    """Declare the records' indexes on ``store``; what was declared, what is new, what the
    backend keeps (a backend without indexes keeps none: answers are the same, only slower)."""
    from ..records import ensure_schema

    before = set(store.indexes())
    declared = ensure_schema(store)
    kept = store.indexes()
    return {
        "project": store.project,
        "backend": store.backend.name,
        "declared": [spec_dict(s) for s in declared],
        "new": [spec_dict(s) for s in kept if s not in before],
        "indexes": [spec_dict(s) for s in kept],
    }


@click.command(name="init-schema")
@url_option
@project_option
@json_option
def init_schema(url: str | None, project: str, as_json: bool) -> None:
    """Declare the orchestrator records' indexes (safe to run twice: nothing new then)."""
    with open_store(url, project) as store:
        report = declare_schema(store)
    if as_json:
        click.echo(output.dumps(report))
        return
    new = {(s["table"], tuple(s["fields"])) for s in report["new"]}
    kept = {(s["table"], tuple(s["fields"])) for s in report["indexes"]}
    click.echo(
        f"project {report['project']!r} ({report['backend']}): {len(report['declared'])} "
        f"indexes declared, {len(report['new'])} new; the backend keeps {len(report['indexes'])}"
    )
    rows = []
    for s in report["declared"]:
        key = (s["table"], tuple(s["fields"]))
        state = "new" if key in new else "kept" if key in kept else "not kept by this backend"
        fields = ", ".join(s["fields"])
        unique = "unique" if s["unique"] else ""
        rows.append({"table": s["table"], "fields": fields, "kind": unique, "state": state})
    click.echo(output.table(rows))
