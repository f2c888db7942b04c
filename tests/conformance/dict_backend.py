"""A third-party backend in ~60 lines: plain dicts in this process, shared by location name.

It is what a custom backend's author writes (implement ``Backend``, register a scheme) and
proves that the conformance suite runs on a backend that is not ours.
"""

from __future__ import annotations

import threading

from conductor_store import Backend, Change, CommitResult, ConflictError, NotFoundError
from conductor_store.validation import check_options, copy_json

_locations: dict[str, dict] = {}
_guard = threading.Lock()


class DictBackend(Backend):
    name = "dict"

    def __init__(self, url: str, project: str) -> None:
        self.url = url
        with _guard:
            location = _locations.setdefault(url, {})
            self._state = location.setdefault(
                project, {"tables": {}, "log": [], "seq": 0, "pruned": 0}
            )
        self._lock = _guard

    def get(self, table, id):
        with self._lock:
            doc = self._state["tables"].get(table, {}).get(id)
            return copy_json(doc) if doc is not None else None

    def scan(self, table):
        with self._lock:
            return list(self._state["tables"].get(table, {}).values())

    def tables(self):
        with self._lock:
            return sorted(t for t, rows in self._state["tables"].items() if rows)

    def commit(self, writes, checks):
        with self._lock:
            tables = self._state["tables"]
            for (table, id), version in checks.items():
                current = tables.get(table, {}).get(id)
                if (current["_version"] if current else None) != version:
                    raise ConflictError(f"{table}:{id} changed")
            staged: dict = {}
            for w in writes:  # check everything before changing anything
                current = staged.get((w.table, w.id), tables.get(w.table, {}).get(w.id))
                if w.kind == "insert" and current is not None:
                    raise ConflictError(f"{w.table}:{w.id} already exists")
                if w.kind == "merge" and current is None:
                    raise NotFoundError(f"{w.table}:{w.id} does not exist")
                staged[(w.table, w.id)] = (
                    None if w.kind == "delete" else (current or True)
                )  # exists after it
            seq = self._state["seq"] + 1
            changes = []
            for w in writes:
                rows = tables.setdefault(w.table, {})
                current = rows.get(w.id)
                if w.kind == "delete":
                    changes.append(
                        Change(seq, w.table, w.id, "delete", None) if rows.pop(w.id, None) else None
                    )
                    continue
                body = {**(current or {}), **w.doc} if w.kind == "merge" else dict(w.doc)
                body.pop("id", None)
                body.pop("_version", None)
                rows[w.id] = {**copy_json(body), "id": w.id, "_version": seq}
                changes.append(
                    Change(
                        seq, w.table, w.id, "update" if current else "insert", copy_json(rows[w.id])
                    )
                )
            if any(changes):
                self._state["seq"] = seq
                self._state["log"].extend(c for c in changes if c)
            return CommitResult(seq if any(changes) else None, changes)

    def prune_changes(self, through):
        with self._lock:
            self._state["log"] = [c for c in self._state["log"] if c.seq > through]
            self._state["pruned"] = max(self._state["pruned"], min(through, self._state["seq"]))

    def pruned_through(self):
        with self._lock:
            return self._state["pruned"]

    def changes(self, since=0, tables=None, limit=None):
        with self._lock:
            out = [
                c
                for c in self._state["log"]
                if c.seq > since and (tables is None or c.table in tables)
            ]
        return [c._replace(doc=copy_json(c.doc)) for c in out[:limit]]


def open_backend(url: str, *, project: str, **options) -> DictBackend:
    check_options(options, (), "the dict backend")  # it takes none
    return DictBackend(url, project)
