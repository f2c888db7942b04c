"""Reading records: ``get``, ``find`` and ``query``."""

from __future__ import annotations

import click

from . import output
from .output import format_options, json_option, open_store, project_option, url_option


@click.command()
@url_option
@project_option
@json_option
@click.argument("table")
@click.argument("id")
def get(url: str | None, project: str, as_json: bool, table: str, id: str) -> None:
    """Print one record (exit 1 if it does not exist)."""
    with open_store(url, project) as store:
        doc = store.get(table, id)
    if doc is None:
        output.fail(f"{table}:{id} does not exist in project {project!r}")
    if as_json:
        click.echo(output.dumps(doc))
        return
    width = max(len(k) for k in doc)
    for key, value in doc.items():
        click.echo(f"{key.ljust(width)}  {output.cell(value)}")


@click.command()
@url_option
@project_option
@format_options
@click.option("--order-by", default=None, help="Field to sort by; -field for descending.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most N records.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N.")
@click.argument("table")
@click.argument("where", required=False)
def find(
    url: str | None,
    project: str,
    fmt: str | None,
    order_by: str | None,
    limit: int | None,
    offset: int,
    table: str,
    where: str | None,
) -> None:
    """Records of TABLE matching WHERE (the portable query: status = 'done' AND attempts > 1)."""
    with open_store(url, project) as store:
        rows = store.find(table, where, order_by=order_by, limit=limit, offset=offset)
    output.emit_rows(rows, fmt)


@click.command()
@url_option
@click.option("--project", default="default", show_default=True, help="Project to query.")
@click.option(
    "-p",
    "--param",
    "params",
    type=(str, str),
    multiple=True,
    metavar="NAME VALUE",
    help="Bind :NAME to VALUE (JSON if it parses, else the string); repeatable.",
)
@format_options
@click.argument("sql")
def query(url: str | None, project: str, params: tuple, fmt: str | None, sql: str) -> None:
    """Run a portable SELECT and print its rows."""
    values = {name: _value(text) for name, text in params}
    with open_store(url, project) as store:
        rows = store.query(sql, values)
    output.emit_rows(rows, fmt)


def _value(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text
