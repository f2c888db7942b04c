"""``scripts/db-cli.py``: the seed's ``db-cli`` commands as written, a thin layer that calls
the ``conductor-store`` commands with the seed's option names (``-p`` is the project there).

    python scripts/db-cli.py status
    python scripts/db-cli.py migrate -p P [-d DIR] [--dry-run]     # Conductor's .workflow/
    python scripts/db-cli.py migrate-all --projects-dir D [--dry-run]
    python scripts/db-cli.py query -p P "SELECT ..."
    python scripts/db-cli.py stats -p P
    python scripts/db-cli.py init-schema -p P
"""

from __future__ import annotations

from typing import Any

import click

from . import SafeGroup, _load
from .output import url_option


def _forward(name: str, **params: Any) -> None:
    click.get_current_context().invoke(_load(name), **params)


def _target(url: str | None) -> str:
    from ..urls import default_url

    return url or default_url()


@click.group(cls=SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The seed's db-cli, over the conductor-store commands."""


@main.command()
@url_option
def status(url: str | None) -> None:
    """Where the store is and whether it is reachable."""
    _forward(".inspect_cmds:status", url=url, project="default", as_json=False)


_project = click.option("-p", "--project", required=True, help="Project name.")
_dry_run = click.option(
    "--dry-run", is_flag=True, help="Report what would be written; write nothing."
)


@main.command()
@url_option
@_project
@click.option("-d", "--dir", "directory", default=".", show_default=True,
              type=click.Path(file_okay=False, exists=True),
              help="The Conductor project directory (holding .workflow/).")  # fmt: skip
@_dry_run
@click.option("--state-dir", default=None, hidden=True)
def migrate(url: str | None, project: str, directory: str, dry_run: bool,
            state_dir: str | None) -> None:  # fmt: skip
    """Load a Conductor project's .workflow/ JSON files into the store (idempotent)."""
    _forward(".migrate_cmds:migrate", conductor=directory, source=None, target=_target(url),
             project=project, all_projects=False, dry_run=dry_run, state_dir=state_dir,
             as_json=False)  # fmt: skip


@main.command(name="migrate-all")
@url_option
@click.option("--projects-dir", required=True, type=click.Path(file_okay=False, exists=True))
@_dry_run
@click.option("--state-dir", default=None, hidden=True)
def migrate_all(url: str | None, projects_dir: str, dry_run: bool, state_dir: str | None) -> None:
    """Migrate every project directory under --projects-dir."""
    _forward(".migrate_cmds:migrate_all", projects_dir=projects_dir, target=_target(url),
             dry_run=dry_run, state_dir=state_dir, as_json=False)  # fmt: skip


@main.command()
@url_option
@_project
@click.argument("sql")
def query(url: str | None, project: str, sql: str) -> None:
    """Run a SELECT; rows printed as indented JSON."""
    _forward(".data_cmds:query", url=url, project=project, sql=sql, params=(), fmt="json")


@main.command()
@url_option
@_project
def stats(url: str | None, project: str) -> None:
    """Workflow state, tasks, audit trail and budget of a project."""
    _forward(".records_cmds:stats", url=url, project=project, as_json=False)


@main.command(name="init-schema")
@url_option
@_project
def init_schema(url: str | None, project: str) -> None:
    """Declare the orchestrator records' indexes (safe to run twice)."""
    _forward(".records_cmds:init_schema", url=url, project=project, as_json=False)
