"""``conductor-store demo``: the orchestrator-like scenario of :mod:`conductor_store.demo`."""

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
    """Run a small orchestrator-like scenario in its own project and print what it stored."""
    from ..demo import run_demo

    def say(message: str) -> None:
        click.echo(f"- {message}", err=True)

    report = run_demo(url, project=project, progress=None if as_json else say, reset=reset)
    if as_json:
        click.echo(output.dumps(report))
        return
    info = report["info"]
    click.echo(f"\nStore: {info['backend']} at {info['url']} (project {info['project']})")
    for table, rows in report["tables"].items():
        click.echo(f"\n{table} ({len(rows)}):")
        for row in rows:
            fields = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("id", "_version"))
            click.echo(f"  {row['id']:<28} v{row['_version']}  {fields}")
    click.echo(
        f"\nChange log: {report['changes']} changes in {report['commits']} commits "
        f"(last seq {report['last_seq']})."
    )
