"""Move a project between any two stores -- or from Conductor's own JSON layout -- safely.

:func:`migrate` copies every record of every table (ids and fields as they are) in batches,
one transaction each. Before a batch commits, what the target held for its records is written
durably to an undo journal (:mod:`.journal`), so that:

* a failure part-way (an error, Ctrl-C, a failed ``verify``) rolls back: every record the run
  wrote gets back what it held before, and the target is as it was;
* a run killed outright (``kill -9``, power cut) can be continued with ``resume=True`` (records
  already there are compared, not rewritten) or undone with ``rollback=True``.

``dry_run`` reads and validates everything and reports counts, bytes and problems, writing
nothing anywhere (not even a state file). ``verify`` compares, per table, the record count and a
sha256 over the canonical records of the source with the same records read back from the target.
``merge`` allows a non-empty target: records with the same id are replaced, identical ones left
alone -- so a second run changes nothing.

The change-log position: the target numbers its own commits, so ``_version`` values and the seq
are the target's; the source's position when the copy began is in the report
(``source_position``) next to the target's after it (``target_position``).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from ..errors import StoreError
from ..messages import describe
from ..portable import last_seq
from ..urls import redact_url, split_scheme
from . import core
from .journal import RunState, default_dir, run_name
from .sources import LoadedSource, StoreSource

__all__ = [
    "MigrationError",
    "MigrationInterrupted",
    "migrate",
    "migrate_all",
    "from_conductor",
    "list_projects",
    "LoadedSource",
    "StoreSource",
]


class MigrationError(StoreError):
    """A migration could not start, or failed and was rolled back (the message says which)."""


class MigrationInterrupted(MigrationError):
    """Ctrl-C stopped a migration; it was rolled back."""

    exit_code = 130


def migrate(
    source_url: str,
    target_url: str,
    *,
    project: str = "default",
    dry_run: bool = False,
    batch_size: int = 500,
    verify: bool = False,
    merge: bool = False,
    resume: bool = False,
    rollback: bool = False,
    state_dir: str | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> dict:
    """Copy ``project`` from ``source_url`` to ``target_url``; returns a report (see module)."""
    from ..store import open as open_store

    with (
        open_store(source_url, project=project) as src,
        open_store(target_url, project=project) as dst,
    ):
        return run(
            StoreSource(src),
            dst,
            name=run_name(source_url, target_url, project),
            **_options(locals()),
        )


def from_conductor(directory: str, target_url: str, *, project: str, **options: Any) -> dict:
    """Load Conductor's ``.workflow`` layout under ``directory`` into ``project``, always
    merging (a second run changes nothing). Other options as for :func:`migrate`."""
    from ..store import open as open_store
    from .conductor import load

    options["merge"] = True
    source = load(directory)
    with open_store(target_url, project=project) as dst:
        name = run_name("conductor://" + os.path.abspath(directory), target_url, project)
        return run(source, dst, name=name, **options)


_OPTION_NAMES = ("dry_run", "batch_size", "verify", "merge", "resume", "rollback", "state_dir",
                 "on_batch")  # fmt: skip


def _options(scope: dict) -> dict:
    return {k: scope[k] for k in _OPTION_NAMES}


def run(
    source: Any,
    target: Any,
    *,
    name: str,
    dry_run: bool = False,
    batch_size: int = 500,
    verify: bool = False,
    merge: bool = False,
    resume: bool = False,
    rollback: bool = False,
    state_dir: str | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> dict:
    if batch_size < 1:
        raise MigrationError(f"batch size must be at least 1, not {batch_size}")
    state_dir = state_dir or default_dir()
    state = RunState.find(state_dir, name)
    report: dict[str, Any] = {"source": source.label, "target": target.info()["url"],
                              "project": target.project}  # fmt: skip
    if rollback:
        if state is None:
            raise MigrationError(f"no interrupted migration to roll back (looked in {state_dir})")
        report["rolled_back"] = core.rollback(target, state, batch_size)
        state.remove()
        return report
    if dry_run:
        return {**report, "dry_run": True, **core.plan(source, target, merge=merge),
                "interrupted_run": state.path if state else None}  # fmt: skip
    state = _start(source, target, state, state_dir, name, merge=merge, resume=resume,
                   batch_size=batch_size)  # fmt: skip
    return _copy(source, target, state, report, batch_size, verify, merge or resume, on_batch)


def _start(source: Any, target: Any, state: RunState | None, state_dir: str, name: str,
           *, merge: bool, resume: bool, batch_size: int) -> RunState:  # fmt: skip
    if resume:
        if state is None:
            raise MigrationError(f"no interrupted migration to resume (looked in {state_dir})")
        return state
    if state is not None:
        raise MigrationError(
            f"an interrupted migration of this project left its state in {state.path}: "
            "pass --resume to continue it or --rollback to undo it"
        )
    if not merge and target.tables():
        raise MigrationError(core._not_empty(target))
    return RunState.create(state_dir, name, source=source.label, target=target.info()["url"],
                           project=target.project, merge=merge, batch_size=batch_size,
                           source_position=source.position())  # fmt: skip


def _copy(source: Any, target: Any, state: RunState, report: dict, batch_size: int,
          verify: bool, careful: bool, on_batch: Any) -> dict:  # fmt: skip
    started = time.monotonic()
    done_before = state.done
    total = 0

    def batch_done(done: int) -> None:
        if on_batch:
            on_batch(done, total)

    try:
        total = sum(source.count(t) for t in source.tables())
        core.copy(source, target, state, batch_size=batch_size, careful=careful,
                  on_batch=batch_done)  # fmt: skip
        checks = core.verify(source, target, batch_size) if verify else None
        if checks and not all(c["match"] for c in checks):
            bad = ", ".join(c["table"] for c in checks if not c["match"])
            raise MigrationError(f"verify found differences in {bad}")
    except BaseException as exc:
        _undo(target, state, exc)
        raise  # pragma: no cover - _undo always raises
    seconds = time.monotonic() - started
    counts = state.data.get("counts", {})
    report.update(
        tables=[{"table": t, "records": source.count(t), "written": counts.get(t, [0, 0])[0],
                 "unchanged": counts.get(t, [0, 0])[1]} for t in source.tables()],
        written=state.data["written"], unchanged=state.data["unchanged"], seconds=seconds,
        rate=(state.done - done_before) / seconds if seconds > 0 else None,
        source_position=state.data.get("source_position"), target_position=last_seq(target),
        verify=checks, warnings=list(source.problems),
    )  # fmt: skip
    _warn_if_moved(source, state, report)
    state.remove()
    return report


def _warn_if_moved(source: Any, state: RunState, report: dict) -> None:
    before, now = state.data.get("source_position"), source.position()
    if before is not None and now != before:
        report["warnings"].append(
            f"the source changed during the migration (seq {before} -> {now}): "
            "run again with --merge --verify once writers have stopped"
        )


def _undo(target: Any, state: RunState, exc: BaseException) -> None:
    done = state.done
    try:
        undone = core.rollback(target, state)
    except BaseException as again:
        raise MigrationError(
            f"migration failed after {done} records ({describe(exc)}) and its rollback failed "
            f"too ({describe(again)}): run it again with --rollback (state in {state.path})"
        ) from exc
    state.remove()
    tail = f"rolled back {undone} records: the target is as it was"
    if isinstance(exc, KeyboardInterrupt):
        raise MigrationInterrupted(f"interrupted after {done} records; {tail}") from None
    if isinstance(exc, MigrationError):
        raise MigrationError(f"{exc}; {tail}") from None
    raise MigrationError(f"migration failed after {done} records: {describe(exc)}; {tail}") from exc


def list_projects(url: str) -> list[str]:
    """Projects of a JSON store (directories holding ``.meta``), sorted."""
    scheme, path = split_scheme(url)
    if scheme != "json":
        raise MigrationError(
            f"--all lists the projects of a JSON store only, not {redact_url(url)!r}: "
            "name the project with --project"
        )
    root = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(root):
        raise MigrationError(f"no JSON store at {root}")
    return sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n, ".meta")))


def migrate_all(projects_dir: str, target_url: str, **options: Any) -> list[dict]:
    """Every project under ``projects_dir``: Conductor project directories (holding
    ``.workflow``) and conductor-store JSON projects (holding ``.meta``). A project that fails
    is reported (``error``) and the others still run."""
    if not os.path.isdir(projects_dir):
        raise MigrationError(f"{projects_dir} is not a directory")
    reports = []
    for name in sorted(os.listdir(projects_dir)):
        path = os.path.join(projects_dir, name)
        try:
            if os.path.isdir(os.path.join(path, ".workflow")):
                reports.append(from_conductor(path, target_url, project=name, **options))
            elif os.path.isdir(os.path.join(path, ".meta")):
                reports.append(
                    migrate(
                        "json://" + os.path.abspath(projects_dir),
                        target_url,
                        project=name,
                        **options,
                    )  # fmt: skip
                )
        except StoreError as exc:
            reports.append({"project": name, "source": path, "error": describe(exc)})
    return reports
