"""The ``conductor-store`` command line. Subcommands import their work lazily so that
``conductor-store --help`` stays fast."""

from __future__ import annotations

import json as _json
import sys

import click

from . import __version__

URL_HELP = (
    "Store URL: json:///path, a plain path, mem://, surrealkv:///path, ws://host:port "
    "(default: $CONDUCTOR_STORE_URL, else JSON files in the user data directory)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="conductor-store")
def main() -> None:
    """Inspect and exercise conductor-store data."""


@main.command()
@click.option("--url", default=None, help=URL_HELP)
@click.option("--project", default="demo", show_default=True, help="Project to write into.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def demo(url: str | None, project: str, as_json: bool) -> None:
    """Run a small orchestrator-like scenario and print what it stored."""
    from .demo import run_demo
    from .errors import StoreError

    try:
        report = run_demo(url, project=project, progress=None if as_json else _progress)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(_json.dumps(report, indent=2, ensure_ascii=False))
        return
    click.echo(
        f"\nStore: {report['info']['backend']} at {report['info']['url']} "
        f"(project {report['info']['project']})"
    )
    for table, rows in report["tables"].items():
        click.echo(f"\n{table} ({len(rows)}):")
        for row in rows:
            fields = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("id", "_version"))
            click.echo(f"  {row['id']:<28} v{row['_version']}  {fields}")
    click.echo(
        f"\nChange log: {report['changes']} changes in {report['commits']} commits "
        f"(last seq {report['last_seq']})."
    )


@main.command()
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
def bench(
    urls: tuple[str, ...],
    records: int | None,
    quick: bool,
    full: bool,
    as_json: bool,
    write_docs: str | None,
    from_json: str | None,
    notes: tuple[str, ...],
) -> None:
    """Compare each backend with its raw engine and sqlite3: rates, ratios and checks.

    Exit status: 0 all measured checks reached, 1 a URL or backend failed, 3 a check NOT
    reached."""
    from .bench.command import BenchError
    from .bench.command import bench as run_bench

    try:
        code = run_bench(urls=urls, records=records, quick=quick, full=full, as_json=as_json,
                         write_docs=write_docs, from_json=from_json, notes=notes,
                         echo=click.echo)  # fmt: skip
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


def _progress(message: str) -> None:
    click.echo(f"- {message}", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
