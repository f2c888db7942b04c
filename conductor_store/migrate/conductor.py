"""Read the Conductor orchestrator's own JSON layout into records, keeping ids and timestamps.

Under ``<dir>/.workflow/``:

==============================  ===========================================================
``state.json``                  ``workflow_state:state`` (every field but ``tasks``), and one
                                ``tasks`` record per item of its ``tasks`` list (id: task_id)
``audit/invocations.jsonl``     ``audit_entries``, one per line (id: its ``id``/``entry_id``;
                                a repeated id -- Conductor's per-second ids collide -- gets
                                ``-2``, ``-3``... in file order; no id: ``audit-<line>``)
``checkpoints/index.json``      ``checkpoints`` (id: checkpoint id), each merged with its
 + ``<id>/checkpoint.json``     ``checkpoint.json`` when there is one
``sessions/*.json``             ``sessions`` (id: session_id, else the file name)
``budget.json``                 ``budget_records`` from its ``records`` (id: its own, else
                                ``budget-<n>``; amount_usd/prompt_tokens/completion_tokens
                                become cost_usd/tokens_input/tokens_output), and the rest of the
                                file as ``budget_settings:budget``
==============================  ===========================================================

Ids are made valid (characters outside ``[A-Za-z0-9_.:-]`` become ``-``). Ids depend only on
the files, so loading the same directory twice gives the same records: migrating it again
changes nothing. Unreadable files and lines are reported as problems and skipped.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from .sources import LoadedSource

_BAD_ID = re.compile(r"[^A-Za-z0-9_.:\-]")
_BUDGET_RENAMES = {
    "amount_usd": "cost_usd",
    "prompt_tokens": "tokens_input",
    "completion_tokens": "tokens_output",
}


def clean_id(value: Any) -> str:
    text = _BAD_ID.sub("-", str(value))[:128]
    return text if text not in ("", ".", "..") else "-"


class _Loader:
    def __init__(self, root: str) -> None:
        self.root = root
        self.data: dict[str, dict[str, dict]] = {}
        self.problems: list[str] = []

    def read_json(self, *parts: str) -> Any:
        path = os.path.join(self.root, *parts)
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self.problems.append(f"{path}: cannot be read ({exc})")
            return None

    def add(self, table: str, id: Any, doc: Any, where: str) -> None:
        if not isinstance(doc, dict):
            self.problems.append(f"{where}: not a JSON object, skipped")
            return
        rows = self.data.setdefault(table, {})
        base = rid = clean_id(id)
        n = 1
        while rid in rows:
            n += 1
            rid = f"{base}-{n}"
        rows[rid] = {k: v for k, v in doc.items() if k not in ("id", "_version")}


def load(directory: str) -> LoadedSource:
    """The records of the ``.workflow`` directory under ``directory``."""
    from .. import migrate

    root = os.path.join(directory, ".workflow")
    if not os.path.isdir(root):
        raise migrate.MigrationError(f"{directory} holds no .workflow directory")
    loader = _Loader(root)
    _state(loader)
    _audit(loader)
    _checkpoints(loader)
    _sessions(loader)
    _budget(loader)
    return LoadedSource(f"conductor:{os.path.abspath(directory)}", loader.data, loader.problems)


def _state(loader: _Loader) -> None:
    state = loader.read_json("state.json")
    if state is None:
        return
    if not isinstance(state, dict):
        loader.problems.append("state.json: not a JSON object, skipped")
        return
    tasks = state.get("tasks") or []
    loader.add("workflow_state", "state", {k: v for k, v in state.items() if k != "tasks"},
               "state.json")  # fmt: skip
    for n, task in enumerate(tasks if isinstance(tasks, list) else []):
        where = f"state.json tasks[{n}]"
        if not isinstance(task, dict):
            loader.add("tasks", n, task, where)
            continue
        task_id = task.get("task_id") or task.get("id") or f"task-{n}"
        loader.add("tasks", task_id, {**task, "task_id": task_id}, where)


def _audit(loader: _Loader) -> None:
    path = os.path.join(loader.root, "audit", "invocations.jsonl")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            loader.problems.append(f"audit/invocations.jsonl line {n}: not JSON, skipped")
            continue
        eid = (entry.get("id") or entry.get("entry_id")) if isinstance(entry, dict) else None
        loader.add("audit_entries", eid or f"audit-{n:06d}", entry, f"invocations.jsonl:{n}")


def _checkpoints(loader: _Loader) -> None:
    index = loader.read_json("checkpoints", "index.json")
    items = index.get("checkpoints", []) if isinstance(index, dict) else index or []
    entries = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and (item.get("id") or item.get("checkpoint_id")):
            entries[str(item.get("id") or item.get("checkpoint_id"))] = item
    base = os.path.join(loader.root, "checkpoints")
    if os.path.isdir(base):
        for name in sorted(os.listdir(base)):
            if os.path.isfile(os.path.join(base, name, "checkpoint.json")):
                entries.setdefault(name, {})
    for cid, item in sorted(entries.items()):
        body = loader.read_json("checkpoints", cid, "checkpoint.json")
        doc = {**item, **(body if isinstance(body, dict) else {}), "checkpoint_id": cid}
        loader.add("checkpoints", cid, doc, f"checkpoints/{cid}")


def _sessions(loader: _Loader) -> None:
    base = os.path.join(loader.root, "sessions")
    if not os.path.isdir(base):
        return
    for name in sorted(os.listdir(base)):
        if not name.endswith(".json"):
            continue
        doc = loader.read_json("sessions", name)
        if doc is None:
            continue
        sid = (doc.get("session_id") if isinstance(doc, dict) else None) or name[:-5]
        loader.add("sessions", sid, doc, f"sessions/{name}")


def _budget(loader: _Loader) -> None:
    budget = loader.read_json("budget.json")
    if not isinstance(budget, dict):
        return
    records = budget.get("records") or []
    for n, rec in enumerate(records if isinstance(records, list) else []):
        if not isinstance(rec, dict):
            loader.add("budget_records", n, rec, f"budget.json records[{n}]")
            continue
        doc = {_BUDGET_RENAMES.get(k, k): v for k, v in rec.items()}
        if "created_at" not in doc and "timestamp" in doc:
            doc["created_at"] = doc["timestamp"]
        loader.add("budget_records", rec.get("id") or f"budget-{n:06d}", doc,
                   f"budget.json records[{n}]")  # fmt: skip
    rest = {k: v for k, v in budget.items() if k != "records"}
    if rest:
        loader.add("budget_settings", "budget", rest, "budget.json")
