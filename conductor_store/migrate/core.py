"""The steps of a migration: plan (dry run), copy in journaled batches, verify, roll back."""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

from ..portable import Digest, canonical, fields
from ..validation import check_doc, check_id, check_table
from .journal import RunState

OnBatch = Callable[[int], None]


def plan(source: Any, target: Any, *, merge: bool) -> dict:
    """What a run would do, reading and validating everything and writing nothing.
    ``problems`` would make the run fail; ``warnings`` (unreadable source lines) would not."""
    problems: list[str] = []
    if not merge and target.tables():
        problems.append(_not_empty(target))
    rows = []
    for table in source.tables():
        row = {"table": table, "records": 0, "bytes": 0, "write": 0, "unchanged": 0}
        for page in source.pages(table, None, 500):
            current = _current(target, table, page) if merge else {}
            for id, body in page:
                try:
                    check_table(table), check_id(id), check_doc(body, id)
                except ValueError as exc:
                    problems.append(f"{table}:{id}: {exc}")
                row["records"] += 1
                row["bytes"] += len(canonical(body).encode())
                old = current.get(id)
                row["unchanged" if old is not None and fields(old) == body else "write"] += 1
        rows.append(row)
    return {"tables": rows, "problems": problems, "warnings": list(source.problems)}


def _not_empty(target: Any) -> str:
    return (
        f"target project {target.project!r} is not empty ({', '.join(target.tables())}): "
        "migrate into an empty project, or pass --merge"
    )


def _current(target: Any, table: str, page: list) -> dict[str, dict]:
    return {d["id"]: d for d in target.get_many(table, [i for i, _ in page])}


def copy(
    source: Any,
    target: Any,
    state: RunState,
    *,
    batch_size: int,
    careful: bool,
    on_batch: OnBatch | None = None,
) -> None:
    """Copy every table from where ``state`` says, one journaled transaction per batch.
    ``careful``: compare with what the target holds (merge, resume) instead of inserting."""
    for table in source.tables():
        if table in state.data["done_tables"]:
            continue
        for page in source.pages(table, state.after(table), batch_size):
            written, unchanged = _write_batch(target, table, page, state, careful)
            state.mark(table, page[-1][0], written, unchanged)
            if on_batch:
                on_batch(state.done)
        state.finish_table(table)


def _write_batch(target: Any, table: str, page: list, state: RunState, careful: bool) -> tuple:
    current = _current(target, table, page) if careful else {}
    todo = [(i, b) for i, b in page if i not in current or fields(current[i]) != b]
    state.journal(
        [{"t": table, "i": i, "b": fields(current[i]) if i in current else None} for i, _ in todo]
    )
    with target.transaction() as tx:
        for id, body in todo:
            if id in current:  # compare-and-set: what the journal saved is what we replace
                tx.put(table, id, {**body, "_version": current[id]["_version"]})
            else:
                tx.insert(table, body, id=id)
    return len(todo), len(page) - len(todo)


def rollback(target: Any, state: RunState, batch_size: int = 500) -> int:
    """Give every record the run may have written back what it held before; returns how many.
    Ctrl-C is held off meanwhile (in the main thread) so that the undo itself is not cut."""
    restore = list(state.befores())
    with _no_sigint():
        for start in range(0, len(restore), batch_size):
            with target.transaction() as tx:
                for table, id, before in restore[start : start + batch_size]:
                    if before is None:
                        tx.delete(table, id)
                    else:
                        tx.put(table, id, before)
    return len(restore)


class _no_sigint:
    def __enter__(self) -> None:
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def verify(source: Any, target: Any, batch_size: int = 500) -> list[dict]:
    """Per table: the source's count and digest, and the target's over the same ids."""
    out = []
    for table in source.tables():
        want, got = Digest(), Digest()
        for page in source.pages(table, None, batch_size):
            current = _current(target, table, page)
            for id, body in page:
                want.add(id, body)
                got.add(id, current.get(id))
        out.append(
            {
                "table": table,
                "source": want.count,
                "target": got.count,
                "digest": want.hex,
                "match": want.hex == got.hex,
            }
        )
    return out
