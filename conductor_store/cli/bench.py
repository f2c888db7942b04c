"""``conductor-store bench``: declares the command; the work is :mod:`conductor_store.bench`."""

from __future__ import annotations

import sys

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
@click.option("--quick", is_flag=True, help="Small sizes and short rounds: a smoke run (~1 min).")
@click.option(
    "--full", is_flag=True, help="Also 100,000 records (issue figures), 3 s writer runs (~15 min)."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (no progress).")
@click.option("--write-docs", metavar="PATH", help="Replace the generated tables in PATH.")
@click.option(
    "--from-json", metavar="FILE", help="Render a saved --json report instead of running."
)
@click.option("--note", "notes", multiple=True, help="A note for the docs' notes (repeatable).")
@click.option(
    "--dir",
    "directory",
    metavar="PATH",
    help="Create the run's temporary stores in PATH (default: the system temp dir).",
)
def bench(
    urls: tuple[str, ...],
    records: int | None,
    quick: bool,
    full: bool,
    as_json: bool,
    write_docs: str | None,
    from_json: str | None,
    notes: tuple[str, ...],
    directory: str | None,
) -> None:
    """Compare each backend with its raw engine and sqlite3: rates, ratios and checks.

    Exit status: 0 all measured checks reached, 1 a URL or backend failed, 3 a check NOT
    reached."""
    from ..bench.command import BenchError
    from ..bench.command import bench as run_bench

    try:
        code = run_bench(urls=urls, records=records, quick=quick, full=full, as_json=as_json,
                         write_docs=write_docs, from_json=from_json, notes=notes,
                         echo=click.echo, directory=directory)  # fmt: skip
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)
