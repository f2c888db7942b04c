"""``conductor-store bench``: forwards to :mod:`conductor_store.bench` (owned by the bench
work; this module only declares the command)."""

from __future__ import annotations

import json as _json

import click


@click.command()
@click.option(
    "--url",
    "urls",
    multiple=True,
    metavar="URL",
    help="Benchmark this store URL (repeatable; default: every built-in backend).",
)
@click.option(
    "--records",
    type=click.IntRange(min=10),
    default=None,
    help="Records loaded before each comparison (default 2000; 200 with --quick).",
)
@click.option("--quick", is_flag=True, help="Small counts, no SurrealDB cold starts: a smoke run.")
@click.option(
    "--full", is_flag=True, help="Also measure scaling at 100,000 records (100x the smallest size)."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (no progress).")
def bench(urls: tuple, records: int | None, quick: bool, full: bool, as_json: bool) -> None:
    """Compare each backend with its raw engine and sqlite3: ops/s, ratios and checks."""
    from .. import bench as engine

    def progress(k: int, total: int, label: str) -> None:
        click.echo(f"[{k:>3}/{total}] {engine.scrub(label, urls)} ...", err=True)

    report = engine.run(
        urls, records=records, quick=quick, full=full, progress=None if as_json else progress
    )
    text = (
        _json.dumps(report, indent=2, ensure_ascii=False) if as_json else engine.render_text(report)
    )
    click.echo(engine.scrub(text, urls))
