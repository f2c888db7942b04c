"""A complete backend in plain dicts, shared by every store opened on the same location name
in this process: ``memory-example://NAME``. It passes the conformance suite with
``multiprocess = False``; copy it to start your own (``docs/custom-backends.md``).

Register it before opening (``conductor_store.register("memory-example", open_backend)``) or
through the entry-point group ``conductor_store.backends``.
"""

from __future__ import annotations

import threading
import time

from conductor_store import (
    Backend,
    Change,
    CommitResult,
    ConflictError,
    NotFoundError,
    Write,
)
from conductor_store.backends import check_options, copy_json

_locations: dict[str, dict] = {}
_guard = threading.Lock()  # one lock for every location: commits are atomic and isolated


class MemoryBackend(Backend):
    name = "memory-example"

    def __init__(self, url: str, project: str) -> None:
        self.url = url
        with _guard:
            location = _locations.setdefault(url, {})
            self._state = location.setdefault(
                project, {"tables": {}, "log": [], "seq": 0, "pruned": 0}
            )

    # -- reads: fresh copies (get) or a consistent snapshot the caller will not mutate (scan)
    def get(self, table, id):
        with _guard:
            doc = self._state["tables"].get(table, {}).get(id)
            return copy_json(doc) if doc is not None else None

    def scan(self, table):
        with _guard:
            return list(self._state["tables"].get(table, {}).values())

    def tables(self):
        with _guard:
            return sorted(t for t, rows in self._state["tables"].items() if rows)

    # -- the commit: verify everything, then apply everything, under one lock
    def commit(self, writes, checks):
        with _guard:
            tables = self._state["tables"]
            for (table, id), version in checks.items():
                current = tables.get(table, {}).get(id)
                if (current["_version"] if current else None) != version:
                    raise ConflictError(f"{table}:{id} changed since it was read")
            self._verify(tables, writes)
            seq = self._state["seq"] + 1
            changes = [self._apply(tables.setdefault(w.table, {}), w, seq) for w in writes]
            if any(changes):
                self._state["seq"] = seq
                self._state["log"].extend(c for c in changes if c)
            return CommitResult(seq if any(changes) else None, changes)

    @staticmethod
    def _verify(tables: dict, writes: list[Write]) -> None:
        """Raise before anything changed if a write cannot apply (writes see earlier ones)."""
        exists: dict = {}
        for w in writes:
            key = (w.table, w.id)
            present = exists.get(key, w.id in tables.get(w.table, {}))
            if w.kind == "insert" and present:
                raise ConflictError(f"{w.table}:{w.id} already exists")
            if w.kind == "merge" and not present:
                raise NotFoundError(f"{w.table}:{w.id} does not exist")
            exists[key] = w.kind != "delete"

    @staticmethod
    def _apply(rows: dict, w: Write, seq: int) -> Change | None:
        now = time.time()
        current = rows.get(w.id)
        if w.kind == "delete":
            return Change(seq, w.table, w.id, "delete", None, now) if rows.pop(w.id, None) else None
        body = {**current, **(w.doc or {})} if w.kind == "merge" and current else dict(w.doc or {})
        body.pop("id", None)
        body.pop("_version", None)
        rows[w.id] = {**copy_json(body), "id": w.id, "_version": seq}  # the commit's number
        doc = copy_json(rows[w.id])
        if current:
            return Change(seq, w.table, w.id, "update", doc, now)
        return Change(seq, w.table, w.id, "insert", doc, now)

    # -- the change log: copies, in commit order
    def changes(self, since=0, tables=None, limit=None):
        with _guard:
            found = [
                c
                for c in self._state["log"]
                if c.seq > since and (tables is None or c.table in tables)
            ]
        return [c._replace(doc=copy_json(c.doc)) for c in found[:limit]]

    # -- optional: forgetting old changes (the Store's retention policy calls this)
    def prune_changes(self, through):
        with _guard:
            self._state["log"] = [c for c in self._state["log"] if c.seq > through]
            self._state["pruned"] = max(self._state["pruned"], min(through, self._state["seq"]))

    def pruned_through(self):
        with _guard:
            return self._state["pruned"]


def open_backend(url: str, *, project: str, **options) -> MemoryBackend:
    """The factory ``register`` takes: ``factory(url, *, project, **options)``."""
    check_options(options, (), "the memory-example backend")  # it takes none
    return MemoryBackend(url, project)
