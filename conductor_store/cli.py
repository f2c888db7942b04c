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
@click.option("--quick", is_flag=True, help="Small counts, no SurrealDB cold starts: a smoke run.")
@click.option(
    "--full", is_flag=True, help="Also measure scaling at 100,000 records (100x the smallest size)."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (no progress).")
def bench(urls: tuple, records: int | None, quick: bool, full: bool, as_json: bool) -> None:
    """Compare each backend with its raw engine and sqlite3: ops/s, ratios and checks."""
    from . import bench as engine

    def progress(k: int, total: int, label: str) -> None:
        click.echo(f"[{k:>3}/{total}] {engine.scrub(label, urls)} ...", err=True)

    report = engine.run(
        urls, records=records, quick=quick, full=full, progress=None if as_json else progress
    )
    text = (
        _json.dumps(report, indent=2, ensure_ascii=False) if as_json else engine.render_text(report)
    )
    click.echo(engine.scrub(text, urls))


def _progress(message: str) -> None:
    click.echo(f"- {message}", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


from .conformance_cli import conformance  # noqa: E402  (light: the suite loads when it runs)

main.add_command(conformance)
