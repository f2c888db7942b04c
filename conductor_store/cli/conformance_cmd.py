"""``conductor-store conformance URL``: the shipped suite on any registered URL, with a report
by area and a verdict (exit 0 when every test that ran passed, 1 otherwise)."""

from __future__ import annotations

import json

import click

from ..urls import redact_url


@click.command("conformance")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("-k", "keyword", metavar="EXPR", help="Only tests matching EXPR (pytest's -k).")
@click.option(
    "--capability",
    "capabilities",
    multiple=True,
    metavar="NAME",
    help="Declare a capability (network, credentials) or, as no-NAME, switch one off.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show pytest's output while it runs.")
def conformance(url: str, as_json: bool, keyword: str | None, capabilities, verbose) -> None:
    """Run the conformance suite on URL.

    URL may hold {tmp} (a fresh directory per test) and {unique} (a fresh token per test),
    e.g. 'sqlite://{tmp}/db.sqlite' or 'ws://root:pw@host:8000/?namespace=t_{unique}'.
    """
    from ..conformance.runner import run
    from ..errors import StoreError

    try:
        report = run(url, capabilities=capabilities, keyword=keyword, verbose=verbose)
    except StoreError as exc:
        raise click.ClickException(f"cannot run the suite on {redact_url(url)}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(render(report))
    raise SystemExit(0 if report.to_dict()["passed"] else 1)


def render(report) -> str:
    flags = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in sorted(report.capabilities.items()))
    lines = [f"conductor-store conformance: {report.url}", f"capabilities: {flags}", ""]
    lines.append(f"{'area':<16}{'passed':>8}{'failed':>8}{'skipped':>9}")
    for area, counts in report.areas().items():
        lines.append(f"{area:<16}{counts['passed']:>8}{counts['failed']:>8}{counts['skipped']:>9}")
    for failure in report.failed:
        lines += ["", f"FAILED {failure.test} [{failure.area}]", f"  promise: {failure.promise}"]
        lines += [f"  {line}" for line in failure.detail.splitlines()]
    lines += ["", report.verdict()]
    return "\n".join(lines)
