"""A migration run's state file and undo journal, kept on disk so that a run killed at any
instant (even ``kill -9``) can be resumed or rolled back.

``<dir>/<name>.json`` holds where the run is (per table, the last id committed); it is replaced
atomically after every batch. ``<dir>/<name>.journal.jsonl`` holds, for every record a batch is
about to write, what the target held before (``null``: nothing); it is fsync'd *before* the
batch commits, so every write the target may have received is in it. Rolling back applies, for
each record, the first "before" the journal has for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Iterator

from ..errors import StoreError
from ..urls import redact_url

STATE_VERSION = 1


def default_dir() -> str:
    import platformdirs

    return os.path.join(platformdirs.user_state_dir("conductor-store"), "migrations")


def run_name(source: str, target: str, project: str) -> str:
    key = "\0".join((redact_url(source), redact_url(target), project))
    return f"migrate-{project}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class RunState:
    """The state of one migration run (source, target, project)."""

    def __init__(self, directory: str, name: str, data: dict) -> None:
        self.directory = directory
        self.path = os.path.join(directory, name + ".json")
        self.journal_path = os.path.join(directory, name + ".journal.jsonl")
        self.data = data

    # -- life cycle ------------------------------------------------------------------------
    @classmethod
    def find(cls, directory: str, name: str) -> "RunState | None":
        path = os.path.join(directory, name + ".json")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read migration state {path}: {exc}") from None
        if data.get("state_version") != STATE_VERSION:
            raise StoreError(f"migration state {path} has an unknown format")
        return cls(directory, name, data)

    @classmethod
    def create(cls, directory: str, name: str, **facts: Any) -> "RunState":
        os.makedirs(directory, mode=0o700, exist_ok=True)
        data = {
            "state_version": STATE_VERSION,
            "status": "running",
            "started": time.time(),
            "tables": {},
            "done_tables": [],
            "written": 0,
            "unchanged": 0,
            **facts,
        }
        state = cls(directory, name, data)
        with open(state.journal_path, "w", encoding="utf-8"):
            pass
        state.save()
        return state

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def remove(self) -> None:
        for path in (self.journal_path, self.path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    # -- progress --------------------------------------------------------------------------
    @property
    def done(self) -> int:
        return int(self.data["written"]) + int(self.data["unchanged"])

    def after(self, table: str) -> str | None:
        return self.data["tables"].get(table)

    def mark(self, table: str, last_id: str, written: int, unchanged: int) -> None:
        self.data["tables"][table] = last_id
        per = self.data.setdefault("counts", {}).setdefault(table, [0, 0])
        per[0] += written
        per[1] += unchanged
        self.data["written"] += written
        self.data["unchanged"] += unchanged
        self.save()

    def finish_table(self, table: str) -> None:
        self.data["done_tables"].append(table)
        self.save()

    # -- the undo journal ------------------------------------------------------------------
    def journal(self, entries: list[dict]) -> None:
        """Append ``{"t": table, "i": id, "b": before-or-None}`` lines, durably."""
        if not entries:
            return
        text = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
        with open(self.journal_path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def befores(self) -> Iterator[tuple[str, str, dict | None]]:
        """For each record the run may have written: what the target held before it."""
        seen: dict[tuple, dict | None] = {}
        try:
            with open(self.journal_path, encoding="utf-8") as f:
                for line in f:
                    if not line.endswith("\n"):
                        break  # torn by a kill: its batch never committed
                    e = json.loads(line)
                    seen.setdefault((e["t"], e["i"]), e["b"])
        except FileNotFoundError:
            pass
        for (table, id), before in seen.items():
            yield table, id, before
