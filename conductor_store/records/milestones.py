"""Milestones: named groups of tasks (the reference has only their schema)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from ._base import Repository, check_choice, check_fields, check_strings, check_text
from .models import Milestone
from .timeutil import now_iso

if TYPE_CHECKING:
    from ..store import Transaction

MILESTONE_STATUSES = ("pending", "in_progress", "completed")
_UPDATABLE = ("name", "description", "task_ids", "status")


class MilestoneRepository(Repository[Milestone]):
    """``store.milestones`` (record id = milestone_id)."""

    table = "milestones"
    record = Milestone

    def _check_tasks(self, tx: Any, task_ids: list[str]) -> None:
        found = {d["id"] for d in tx.get_many("tasks", task_ids)}
        for task_id in task_ids:
            if task_id not in found:
                raise NotFoundError(f"milestone names unknown task {task_id!r}")

    def create_milestone(
        self,
        milestone_id: str,
        name: str,
        description: str = "",
        task_ids: list[str] | None = None,
        status: str = "pending",
    ) -> Milestone:
        """``ConflictError`` if the id exists; ``NotFoundError`` for an unknown task id."""
        check_text(milestone_id, "milestone_id")
        check_text(name, "name")
        check_text(description, "description", empty=True)
        check_choice(status, MILESTONE_STATUSES, "milestone status")
        tasks = check_strings(task_ids, "task_ids")
        stamp = now_iso()
        doc = {
            "milestone_id": milestone_id,
            "name": name,
            "description": description,
            "task_ids": tasks,
            "status": status,
            "created_at": stamp,
            "updated_at": stamp,
        }

        def run(tx: "Transaction") -> Milestone:
            self._check_tasks(tx, tasks)
            return self._rec(self._insert_new(tx, milestone_id, doc))  # type: ignore[return-value]

        return self._atomic(run)

    def get_milestone(self, milestone_id: str) -> Milestone | None:
        return self.find_by_id(milestone_id)

    def list_milestones(self, status: str | None = None) -> list[Milestone]:
        """Oldest first, optionally of one status."""
        if status is not None:
            check_choice(status, MILESTONE_STATUSES, "milestone status")
        where = None if status is None else {"status": status}
        return self._recs(self._db.find(self.table, where, order_by="created_at"))

    def update_milestone(self, milestone_id: str, **updates: Any) -> Milestone:
        check_fields(updates, _UPDATABLE, "milestone")
        if "status" in updates:
            check_choice(updates["status"], MILESTONE_STATUSES, "milestone status")
        if "task_ids" in updates:
            updates["task_ids"] = check_strings(updates["task_ids"], "task_ids")

        def run(tx: "Transaction") -> Milestone:
            self._require(tx, milestone_id)
            self._check_tasks(tx, updates.get("task_ids", []))
            changes = {**updates, "updated_at": now_iso()}
            return self._rec(tx.update(self.table, milestone_id, changes))  # type: ignore[return-value]

        return self._atomic(run)

    def set_status(self, milestone_id: str, status: str) -> Milestone:
        return self.update_milestone(milestone_id, status=status)

    def add_task(self, milestone_id: str, task_id: str) -> Milestone:
        """Add a task to the milestone and set the task's milestone_id, in one commit."""

        def run(tx: "Transaction") -> Milestone:
            milestone = self._require(tx, milestone_id)
            if tx.get("tasks", task_id) is None:
                raise NotFoundError(f"milestone names unknown task {task_id!r}")
            tx.update("tasks", task_id, {"milestone_id": milestone_id, "updated_at": now_iso()})
            ids = milestone["task_ids"] + ([] if task_id in milestone["task_ids"] else [task_id])
            changes = {"task_ids": ids, "updated_at": now_iso()}
            return self._rec(tx.update(self.table, milestone_id, changes))  # type: ignore[return-value]

        return self._atomic(run)

    def get_progress(self, milestone_id: str) -> dict:
        """``{total, completed, completion_rate}`` over the milestone's tasks."""
        milestone = self._require(self._db, milestone_id)
        tasks = self._db.get_many("tasks", milestone["task_ids"])
        done = sum(1 for t in tasks if t.get("status") == "completed")
        total = len(milestone["task_ids"])
        return {
            "milestone_id": milestone_id,
            "total": total,
            "completed": done,
            "completion_rate": done / total if total else 0.0,
        }
