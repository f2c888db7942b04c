"""Small helpers shared by the conformance mixins (public API only: no backend imports)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
from typing import Any, Callable

import pytest

#: the id syntax of the issue: 1-128 letters, digits and ``_ - . :``
ID_SYNTAX = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def ids(docs: list[dict]) -> list[str]:
    """The ids of ``docs``, in order."""
    return [doc["id"] for doc in docs]


def strip(doc: dict | None) -> dict | None:
    """``doc`` without the bookkeeping fields ``id`` and ``_version``."""
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k not in ("id", "_version")}


def snapshot(store) -> tuple:
    """What a failed write must leave untouched: the change log and the table list.

    Uses no query (``find``/``count``) so that validation tests do not depend on the query layer.
    """
    return (store.changes(), store.tables())


def last_seq(store) -> int:
    """The highest commit number in ``store``'s change log (0 when it is empty)."""
    log = store.changes()
    return log[-1].seq if log else 0


def raises_naming(exc_type, *fragments: str):
    """``pytest.raises`` that also checks the message names each of ``fragments``
    (case-insensitively; a tuple fragment means "any of these")."""
    return _RaisesNaming(exc_type, fragments)


class _RaisesNaming:
    def __init__(self, exc_type, fragments) -> None:
        self._cm = pytest.raises(exc_type)
        self._fragments = fragments

    def __enter__(self):
        self._info = self._cm.__enter__()
        return self._info

    def __exit__(self, *exc):
        suppressed = self._cm.__exit__(*exc)
        if not suppressed:  # another exception type: let it propagate unchanged
            return False
        message = str(self._info.value).lower()
        for fragment in self._fragments:
            options = fragment if isinstance(fragment, tuple) else (fragment,)
            assert any(option.lower() in message for option in options), (
                f"the {type(self._info.value).__name__} message {str(self._info.value)!r} "
                f"should name {' or '.join(map(repr, options))}"
            )
        return suppressed


def in_threads(count: int, work: Callable[[int], Any], timeout: float = 120) -> None:
    """Run ``work(k)`` for ``k`` in ``range(count)``, each in its own thread, all released at
    once; re-raise the first error any of them raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            barrier.wait(timeout)
            work(k)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), f"threads still running after {timeout} s"
    if errors:
        raise errors[0]


def assert_hidden(secrets, **texts: str) -> None:
    """Fail if any of ``texts`` (by name) contains one of ``secrets``. The failure names the
    text and shows it with the secret masked: a real password never reaches the test report."""
    secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
    for name, text in texts.items():
        if any(secret in text for secret in secrets):
            for secret in secrets:
                text = text.replace(secret, "<SECRET>")
            pytest.fail(f"a password appears in {name}: {text[:2000]!r}", pytrace=False)


def strings(value: Any) -> list[str]:
    """Every string in a JSON-like ``value`` (keys included; other leaves as ``str()``)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, (list, tuple, set)):
        return [s for v in value for s in strings(v)]
    return [value if isinstance(value, str) else str(value)]


_CHILD = """
import json, sys
import conductor_store
{setup}
_args = json.loads(sys.argv[1])
store = conductor_store.open(_args["url"], project=_args["project"], **_args["options"])
try:
    result = None
{body}
    print(json.dumps(result))
finally:
    store.close()
"""


def child_program(setup: str, body: str) -> str:
    return _CHILD.format(
        setup=textwrap.dedent(setup), body=textwrap.indent(textwrap.dedent(body), "    ")
    )


def child_args(url: str, project: str, options: dict) -> str:
    try:
        return json.dumps({"url": url, "project": project, "options": options})
    except TypeError:  # pragma: no cover - depends on the backend's options
        pytest.skip("open_options are not JSON-serialisable, cannot pass them to a child process")


def run_child(harness, url: str, body: str, project: str = "default") -> Any:
    """Run ``body`` in a fresh Python process with ``store`` opened on ``url``; it may set
    ``result`` to a JSON value, which is returned. Fails the test if the child fails."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            child_program(harness.child_setup, body),
            child_args(url, project, dict(harness.open_options)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"child process failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def start_child(harness, url: str, body: str, project: str = "default") -> subprocess.Popen:
    """Like :func:`run_child` but returns the running process (finish with :func:`finish_child`)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            child_program(harness.child_setup, body),
            child_args(url, project, dict(harness.open_options)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_child(proc: subprocess.Popen) -> Any:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"child process failed:\n{err}"
    return json.loads(out.strip().splitlines()[-1])


__all__ = [
    "ID_SYNTAX",
    "assert_hidden",
    "child_args",
    "child_program",
    "finish_child",
    "ids",
    "in_threads",
    "last_seq",
    "raises_naming",
    "run_child",
    "snapshot",
    "start_child",
    "strings",
    "strip",
]
