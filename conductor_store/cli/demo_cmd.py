"""``conductor-store demo``: the orchestrator scenario of :mod:`conductor_store.demo`."""

from __future__ import annotations

import click

from . import output
from .output import json_option, url_option


@click.command()
@url_option
@click.option("--project", default="demo", show_default=True, help="Project to write into.")
@click.option("--reset", is_flag=True, help="Empty the project first, even of foreign records.")
@json_option
def demo(url: str | None, project: str, reset: bool, as_json: bool) -> None:
    """Run a small orchestrator scenario on the records in its own project and summarise it."""
    from ..demo import run_demo

    def say(message: str) -> None:
        click.echo(f"- {message}", err=True)

    report = run_demo(url, project=project, progress=None if as_json else say, reset=reset)
    if as_json:
        click.echo(output.dumps(report))
        return
    click.echo("\n".join(render(report)))


def render(report: dict) -> list[str]:
    """The summary for people: the claims, the similar errors, then ``stats``' blocks."""
    from .records_cmds import money
    from .records_cmds import render as render_stats

    info = report["info"]
    lines = [f"Store: {info['backend']} at {info['url']} (project {info['project']})", ""]
    lines += ["Claims (tasks.claim_next, in order)"]
    lines += ["  " + line for line in output.table(report["claims"]).splitlines()]
    similar = report["similar"]
    lines += ["", f"Error patterns like {similar['query']!r} (errors.find_similar)"]
    for m in similar["matches"]:
        lines.append(f"  {m['score']:.3f}  {m['error_type']}: {m['error_message']}")
        lines.append(f"         solution: {m['solution']}")
    cp = report["checkpoint"]
    lines += [
        "",
        f"Checkpoint {cp['id']} {cp['name']!r} (phase {cp['phase']}, tasks "
        + ", ".join(f"{n} {s}" for s, n in cp["task_progress"].items())
        + ")",
    ]
    lines += [""] + render_stats(report)[2:]  # without its "Project" line: named above
    budget = report["budget"]
    lines.append(
        f"  limit {money(budget['limit_usd'])}, "
        f"remaining {money(budget['limit_usd'] - budget['total_cost_usd'])}"
    )
    tables = ", ".join(f"{t} {n}" for t, n in report["tables"].items())
    lines += ["", f"Tables: {tables}"]
    lines.append(
        f"Change log: {report['changes']} changes in {report['commits']} commits "
        f"(last seq {report['last_seq']})."
    )
    return lines
