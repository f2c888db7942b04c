"""``export`` and ``import``: a project as JSON Lines (see :mod:`conductor_store.portable`)."""

from __future__ import annotations

import sys
from typing import IO

import click

from . import output
from .output import json_option, open_store, project_option, url_option


@click.command()
@url_option
@project_option
@click.option("-o", "--output", "path", default="-", help="File to write (default: stdout).")
@click.option("--nl", "fmt", flag_value="nl", default=True, help="JSON Lines (the default).")
@click.option("--json", "fmt", flag_value="json", help="One JSON document: header and records.")
@click.option("--csv", "fmt", flag_value="csv", help="table,id,doc rows (doc as JSON).")
def export(url: str | None, project: str, path: str, fmt: str) -> None:
    """Write every record of a project, streaming: a header line, then one record per line."""
    from .. import portable

    with open_store(url, project) as store, _open_out(path) as out:
        total = sum(portable.counts(store).values())
        bar = output.Progress("exported", total)
        if fmt == "nl":
            portable.export(store, out, progress=bar)
        else:
            _export_other(store, out, fmt, bar)
        bar.close()


def _export_other(store: object, out: IO[str], fmt: str, bar: output.Progress) -> None:
    import csv
    import io
    import json

    from .. import portable

    buf = io.StringIO()
    portable.export(store, buf, progress=bar)
    lines = buf.getvalue().splitlines()
    header, records = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    if fmt == "json":
        out.write(output.dumps({"header": header, "records": records}) + "\n")
        return
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "id", "doc"])
    writer.writerows([r["table"], r["id"], portable.canonical(r["doc"])] for r in records)


class _open_out:
    def __init__(self, path: str) -> None:
        self.path = path
        self.file: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        if self.path == "-":
            return sys.stdout
        self.file = open(self.path, "w", encoding="utf-8")
        return self.file

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


@click.command(name="import")
@url_option
@project_option
@json_option
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Records per transaction.")  # fmt: skip
@click.option("--merge", is_flag=True, help="Allow a non-empty project (same ids replaced).")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True), default="-")
def import_cmd(
    url: str | None, project: str, as_json: bool, batch_size: int, merge: bool, file: str
) -> None:
    """Load a JSON Lines export (FILE, or - for stdin) into a project."""
    from .. import portable

    stream = sys.stdin if file == "-" else open(file, encoding="utf-8")
    try:
        with open_store(url, project) as store:
            bar = output.Progress("imported")
            stats = portable.import_(
                store, stream, batch_size=batch_size, merge=merge, progress=bar
            )
            bar.close()
    finally:
        if stream is not sys.stdin:
            stream.close()
    if as_json:
        click.echo(output.dumps(stats))
    else:
        click.echo(
            f"imported {stats['written']} records into project {project!r} "
            f"({stats['unchanged']} already identical)"
        )
