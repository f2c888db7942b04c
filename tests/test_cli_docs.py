"""docs/cli.md documents every command and every option, each command with an example run."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from conductor_store.cli import COMMANDS, main
from conductor_store.cli.dbcli import main as dbcli

DOC = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()


def options(command: click.Command) -> list[str]:
    names = []
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            names += [o for o in param.opts if o.startswith("--") and o != "--help"]
    return names


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_option_is_documented(name):
    command = main.get_command(click.Context(main), name)
    assert f"## `{name}" in DOC or f"`{name}`" in DOC, f"no section for {name}"
    if name != "bench":  # bench's runs are shown in docs/benchmarks.md
        assert f"$ conductor-store {name}" in DOC, f"no example run of {name}"
    missing = [o for o in options(command) if o not in DOC]
    assert not missing, f"{name}: undocumented options {missing}"


@pytest.mark.parametrize("name", sorted(dbcli.commands))
def test_every_db_cli_command_is_documented(name):
    assert name in DOC
    missing = [o for o in options(dbcli.commands[name]) if o not in DOC]
    assert not missing, f"db-cli {name}: undocumented options {missing}"


def test_every_argument_is_named_in_the_docs():
    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        for param in command.params:
            if isinstance(param, click.Argument):
                assert param.name.upper() in DOC, f"{name}: argument {param.name}"
