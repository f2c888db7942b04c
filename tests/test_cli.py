"""The command line, through click's runner (API behaviour is tested in tests/conformance)."""

import ast
from pathlib import Path

from click.testing import CliRunner

import conductor_store
from conductor_store.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_version_prints_the_package_version():
    result = run("--version")
    assert result.exit_code == 0
    assert conductor_store.__version__ in result.output


def test_demo_with_unknown_scheme_is_a_clear_error():
    result = CliRunner().invoke(main, ["demo", "--url", "nosuch://x"])
    assert result.exit_code != 0
    assert "unknown URL scheme 'nosuch'" in result.output
    assert "json://" in result.output


def test_the_library_never_imports_the_cli():
    """The CLI sits on top: no module outside conductor_store/cli imports it (the migration
    library shares one-line error messages through conductor_store.messages)."""
    package = Path(conductor_store.__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        if "cli" in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.lstrip(".").split(".")[0] == "cli" or name.startswith(
                    "conductor_store.cli"
                ):
                    offenders.append(f"{path.relative_to(package)}: {name}")
    allowed = ["__main__.py: .cli"]  # `python -m conductor_store` is the CLI
    assert offenders == allowed
