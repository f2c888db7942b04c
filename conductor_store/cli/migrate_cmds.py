"""``migrate`` and ``migrate-all`` (see :mod:`conductor_store.migrate`)."""

from __future__ import annotations

from typing import Any, Callable

import click

from . import output
from .output import json_option


def _run_options(fn: Callable) -> Callable:
    options: list[Callable[[Callable], Callable]] = [
        click.option("--dry-run", is_flag=True,
                     help="Read and validate everything, report what would be written; write "
                     "nothing."),
        click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
                     help="Records per transaction."),
        click.option("--verify", is_flag=True,
                     help="Afterwards compare counts and a content digest per table (a "
                     "difference rolls the run back)."),
        click.option("--merge", is_flag=True,
                     help="Allow a non-empty target: same ids replaced, identical ones kept."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run from its state."),
        click.option("--rollback", is_flag=True,
                     help="Undo an interrupted run from its state."),
        click.option("--state-dir", type=click.Path(file_okay=False), default=None,
                     help="Where run state is kept (default: the user state directory)."),
        json_option,
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.command()
@click.option("--from", "source", metavar="URL", default=None, help="Store to copy from.")
@click.option("--from-conductor", "conductor", type=click.Path(file_okay=False, exists=True),
              default=None, help="A Conductor project directory (holding .workflow/).")  # fmt: skip
@click.option("--to", "target", metavar="URL", required=True, help="Store to copy into.")
@click.option("--project", default=None, help="Project to copy (default: default).")
@click.option("--all", "all_projects", is_flag=True, help="Every project of a JSON source.")
@_run_options
def migrate(
    source: str | None,
    conductor: str | None,
    target: str,
    project: str | None,
    all_projects: bool,
    as_json: bool,
    **opts: Any,
) -> None:
    """Copy a project's records between any two stores, in journaled batches: a failure or
    Ctrl-C part-way rolls the target back; a killed run can be resumed (--resume)."""
    from .. import migrate as m

    if (source is None) == (conductor is None):
        raise click.UsageError("give exactly one of --from URL and --from-conductor DIR")
    if all_projects and (project or conductor):
        raise click.UsageError("--all copies every project: leave out --project/--from-conductor")
    if conductor:
        if not project:
            raise click.UsageError("--from-conductor needs --project")
        reports = [_one(lambda **k: m.from_conductor(conductor, target, project=project, **k),
                        opts, as_json)]  # fmt: skip
    else:
        assert source is not None
        names = m.list_projects(source) if all_projects else [project or "default"]
        reports = [
            _one(lambda name=name, **k: m.migrate(source, target, project=name, **k), opts,
                 as_json)
            for name in names
        ]  # fmt: skip
    if as_json:
        click.echo(output.dumps(reports if all_projects else reports[0]))
    if any(r.get("problems") for r in reports):
        raise SystemExit(output.EXIT_ERROR)  # a dry run found problems


def _one(call: Callable[..., dict], opts: dict, as_json: bool) -> dict:
    bar = output.Progress("migrated")
    report = call(on_batch=bar, **opts)
    bar.close()
    if not as_json:
        render(report)
    return report


@click.command(name="migrate-all")
@click.option(
    "--projects-dir",
    type=click.Path(file_okay=False, exists=True),
    required=True,
    help="Directory of projects: Conductor ones (.workflow/) and JSON-store ones.",
)
@click.option("--to", "target", metavar="URL", required=True, help="Store to copy into.")
@_run_options  # fmt: skip
def migrate_all(projects_dir: str, target: str, as_json: bool, **opts: Any) -> None:
    """Migrate every project found in a directory; exit 1 if any failed."""
    from .. import migrate as m

    bar = output.Progress("migrated")
    reports = m.migrate_all(projects_dir, target, on_batch=bar, **opts)
    bar.close()
    if as_json:
        click.echo(output.dumps(reports))
    else:
        for report in reports:
            render(report)
        if not reports:
            click.echo("(no projects found)")
    if any("error" in r for r in reports):
        raise SystemExit(output.EXIT_ERROR)


def render(r: dict) -> None:
    """A report for people: the per-table summary, then totals and warnings."""
    head = f"{r['source']} -> {r.get('target', '?')}  project {r['project']}"
    if "error" in r:
        click.echo(f"{head}\n  FAILED: {r['error']}")
        return
    if "rolled_back" in r:
        click.echo(f"{head}\n  rolled back {r['rolled_back']} records")
        return
    click.echo(head + ("  (dry run: nothing written)" if r.get("dry_run") else ""))
    rows = [dict(row, bytes=output.size(row["bytes"])) if "bytes" in row else row
            for row in r["tables"]]  # fmt: skip
    if r.get("verify"):
        ok = {c["table"]: "ok" if c["match"] else "DIFFERS" for c in r["verify"]}
        rows = [dict(row, verify=ok.get(row["table"], "")) for row in rows]
    click.echo(output.table(rows) if rows else "(no tables)")
    if not r.get("dry_run"):
        rate = f"{r['rate']:,.0f} records/s" if r.get("rate") else "-"
        click.echo(
            f"{r['written']} written, {r['unchanged']} unchanged in "
            f"{output.duration(r['seconds'])} ({rate}); source seq {r['source_position']}, "
            f"target seq {r['target_position']}"
        )
    for problem in r.get("problems", []) + r.get("warnings", []):
        click.echo(f"  ! {problem}")
    if r.get("interrupted_run"):
        click.echo(f"  ! an interrupted run's state is in {r['interrupted_run']}")
