"""The ``conductor-store`` command line.

Each command group lives in its own module, imported only when one of its commands runs (or
``--help`` lists it): modules import nothing heavy at the top, so ``--help`` stays fast.
Every failure a command can meet becomes one line on stderr and a non-zero exit (see
:mod:`.output`); ``CONDUCTOR_STORE_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from .. import __version__

#: command name -> "module:attribute" (relative modules are under conductor_store.cli)
COMMANDS: dict[str, str] = {
    "status": ".inspect_cmds:status",
    "inspect": ".inspect_cmds:inspect_cmd",
    "doctor": ".inspect_cmds:doctor",
    "get": ".data_cmds:get",
    "find": ".data_cmds:find",
    "query": ".data_cmds:query",
    "export": ".portable_cmds:export",
    "import": ".portable_cmds:import_cmd",
    "migrate": ".migrate_cmds:migrate",
    "migrate-all": ".migrate_cmds:migrate_all",
    "stats": ".records_cmds:stats",
    "init-schema": ".records_cmds:init_schema",
    "demo": ".demo_cmd:demo",
    "bench": ".bench:bench",
    "watch": ".watch_cmd:watch",
    "conformance": ".conformance_cmd:conformance",
}


def _load(target: str) -> click.Command:
    module, _, attr = target.partition(":")
    package = __name__ if module.startswith(".") else None
    return getattr(importlib.import_module(module, package), attr)


class SafeGroup(click.Group):
    """A group whose commands' errors become one line on stderr and a non-zero exit."""

    def main(self, args: Any = None, *pos: Any, **kw: Any) -> Any:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().main(args, *pos, **kw)

    def invoke(self, ctx: click.Context) -> Any:
        from . import output

        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except BrokenPipeError:  # `conductor-store export | head`: stop quietly
            sys.stdout = open(os.devnull, "w")  # so the flush at exit is silent too
            raise SystemExit(output.EXIT_ERROR) from None
        except click.exceptions.Abort:
            output.fail("interrupted", output.EXIT_INTERRUPTED)
        except KeyboardInterrupt:
            output.fail("interrupted", output.EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - every error is one line, never a traceback
            if os.environ.get("CONDUCTOR_STORE_DEBUG"):
                raise
            code = getattr(exc, "exit_code", output.EXIT_ERROR)
            output.fail(_message(exc, getattr(self, "_argv", [])), code)


class LazyGroup(SafeGroup):
    """Loads a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        return None if target is None else _load(target)


def _message(exc: Exception, argv: list) -> str:
    from ..errors import StoreError
    from ..messages import describe
    from . import output

    text = describe(exc)
    if not isinstance(exc, (StoreError, ValueError, OSError)):
        text = f"internal error ({type(exc).__name__}): {text}"
    return output.scrub(text, argv)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="conductor-store")
def main() -> None:
    """Inspect, query, export, repair and migrate conductor-store data."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
