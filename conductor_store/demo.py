"""A small orchestrator-like scenario: a workflow moves through phases while agents work tasks.

Run it with ``conductor-store demo [--url URL]``; it is also the README's first command.

The demo writes only into a project it owns: an empty one, or one holding nothing but what an
earlier demo run wrote (it keeps the list in ``demo_meta:owner``). A project with any other
record is refused unless ``reset=True`` (``--reset``), which empties it first.
"""

from __future__ import annotations

from typing import Callable

from .errors import StoreError
from .store import Store, open

MARKER = ("demo_meta", "owner")

TASKS = [
    ("T1", "Write parser", "M1", 3),
    ("T2", "Add CLI", "M1", 2),
    ("T3", "Document API", "M2", 1),
]


def run_demo(
    url: str | None,
    *,
    project: str = "demo",
    progress: Callable[[str], None] | None = None,
    reset: bool = False,
) -> dict:
    """Run the scenario on a fresh copy of ``project`` and return what the store holds."""
    say = progress or (lambda message: None)
    with open(url, project=project) as store:
        _claim(store, reset)
        say(f"opened {store.info()['backend']} store at {store.info()['url']}")
        _reset(store)
        since = store.changes()[-1].seq if store.changes() else 0

        store.put("workflow_state", "current", {"phase": "planning", "iteration": 1})
        store.insert("milestones", {"title": "Core works", "status": "open"}, id="M1")
        store.insert("milestones", {"title": "Docs", "status": "open"}, id="M2")
        with store.transaction() as tx:  # all tasks appear together, or none do
            for task_id, title, milestone, priority in TASKS:
                tx.insert(
                    "tasks",
                    {
                        "title": title,
                        "milestone": milestone,
                        "priority": priority,
                        "status": "pending",
                        "attempts": 0,
                    },
                    id=task_id,
                )
        say(f"planned {len(TASKS)} tasks in 2 milestones")

        store.update("workflow_state", "current", {"phase": "implementing"})
        for task_id, _, _, _ in TASKS:
            _run_task(store, task_id, agent="claude")
        say("ran every task once; T1 failed and was retried")
        _run_task(store, "T1", agent="codex")

        budget = sum(e["cost_usd"] for e in store.find("audit_entries"))
        store.put("budget_records", "total", {"spent_usd": round(budget, 4), "limit_usd": 5.0})
        store.update("workflow_state", "current", {"phase": "done"})

        store.put(*MARKER, {"written_by": "conductor-store demo", "keys": sorted(map(list,
                  _keys(store)))})  # fmt: skip
        changes = store.changes(since)
        report = {
            "info": store.info(),
            "tables": {t: store.find(t, order_by="id") for t in store.tables() if t != MARKER[0]},
            "pending_or_failed": store.count("tasks", "status IN ('pending', 'failed')"),
            "changes": len(changes),
            "commits": len({c.seq for c in changes}),
            "last_seq": changes[-1].seq if changes else since,
        }
        say(f"recorded {report['changes']} changes in {report['commits']} commits")
        return report


def _run_task(store: Store, task_id: str, *, agent: str) -> None:
    """One attempt at a task: claim it and log the attempt atomically, then record the result."""

    def claim(tx):
        task = tx.get("tasks", task_id)
        attempt = task["attempts"] + 1
        tx.update("tasks", task_id, {"status": "running", "attempts": attempt})
        entry = tx.insert(
            "audit_entries",
            {"task_id": task_id, "agent": agent, "attempt": attempt, "status": "running"},
        )
        return entry["id"], attempt

    entry_id, attempt = store.atomic(claim)
    ok = not (task_id == "T1" and attempt == 1)  # the first try at T1 fails, to show a retry
    with store.transaction() as tx:
        tx.update("tasks", task_id, {"status": "done" if ok else "failed"})
        tx.update(
            "audit_entries",
            entry_id,
            {
                "status": "success" if ok else "failed",
                "cost_usd": 0.05 * attempt,
                "metadata": {"model": agent, "exit_code": 0 if ok else 1},
            },
        )


def _keys(store: Store) -> set[tuple[str, str]]:
    return {(t, doc["id"]) for t in store.tables() for doc in store.find(t)}


def _claim(store: Store, reset: bool) -> None:
    """Refuse a project holding records an earlier demo run did not write (unless reset)."""
    if reset:
        return
    marker = store.get(*MARKER)
    mine = {tuple(k) for k in (marker or {}).get("keys", [])} | {MARKER}
    foreign = sorted(_keys(store) - mine)
    if foreign:
        table, id = foreign[0]
        raise StoreError(
            f"project {store.project!r} holds {len(foreign)} record(s) the demo did not write "
            f"(e.g. {table}:{id}): choose another --project, or pass --reset to empty it"
        )


def _reset(store: Store) -> None:
    """Empty the demo project so every run starts from the same state."""
    for table in store.tables():
        with store.transaction() as tx:
            for doc in store.find(table):
                tx.delete(table, doc["id"])
