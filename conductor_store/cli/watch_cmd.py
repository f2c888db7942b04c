"""``conductor-store watch``: print changes as they are committed, like ``tail -f``.

One line per change (``--json``: one JSON object per line, for programs); Ctrl-C ends it
cleanly.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime, timezone
from typing import Any

import click

from .output import project_option, url_option


def change_json(change: Any) -> dict:
    """A change as the JSON object ``--json`` prints."""
    return {
        "seq": change.seq,
        "time": change.time,
        "table": change.table,
        "id": change.id,
        "op": change.op,
        "doc": change.doc,
    }


def change_line(change: Any, width: int = 100) -> str:
    """A change as one readable line: seq, time, op, table:id and the fields, cut to ``width``."""
    when = "" if change.time is None else _clock(change.time)
    head = f"{change.seq:>6}  {when:<12}  {change.op:<6}  {change.table}:{change.id}"
    if change.doc is None:
        return head
    fields = {k: v for k, v in change.doc.items() if k not in ("id", "_version")}
    text = f"{head}  v{change.doc.get('_version')}  {json.dumps(fields, ensure_ascii=False)}"
    return text if len(text) <= width else text[: max(width - 3, len(head))] + "..."


def _clock(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).astimezone().strftime("%H:%M:%S.%f")[:12]


@click.command("watch")
@url_option
@project_option
@click.option("--table", "tables", multiple=True, metavar="T", help="Only this table (repeatable).")
@click.option(
    "--since",
    type=click.IntRange(min=0),
    default=None,
    help="Start after this commit number (0: the whole log kept); default: from now.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Exit after this many seconds without a change (default: run until Ctrl-C).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def watch(
    url: str | None,
    project: str,
    tables: tuple,
    since: int | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Print each committed change as it happens (from any process), one line each."""
    from ..errors import StoreError
    from ..store import open as open_store

    width = shutil.get_terminal_size((100, 20)).columns
    try:
        with open_store(url, project=project) as store:
            changes = store.watch(since, tables=list(tables) or None, timeout=timeout)
            try:
                for change in changes:
                    line = json.dumps(change_json(change), ensure_ascii=False)
                    click.echo(line if as_json else change_line(change, width))
            finally:
                changes.close()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        return
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        sys.stderr.close()
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
