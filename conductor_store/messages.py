"""Errors as one line of text: what the CLI prints and the migration reports record.

A leaf module (it imports nothing from the package), so that the library -- the migration in
:mod:`conductor_store.migrate` -- and the command line (:mod:`conductor_store.cli`) share it
without the library importing the CLI.
"""

from __future__ import annotations


def describe(exc: BaseException) -> str:
    """One line naming the cause: the message, or the type when there is none (and the path
    an ``OSError`` names, when the message does not)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    path = getattr(exc, "path", None)
    if path and str(path) not in text:
        text += f" ({path})"
    return text
