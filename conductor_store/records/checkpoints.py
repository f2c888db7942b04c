"""Checkpoints: snapshots of the workflow state and every task, and restoring them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConflictError, NotFoundError, ValidationError
from ..ids import new_id
from ..validation import ID_RE
from ._base import Repository, check_count, check_strings, check_text
from .models import Checkpoint
from .timeutil import now_iso
from .workflow import STATE_ID

if TYPE_CHECKING:
    from ..store import Transaction

STATE, TASKS = "workflow_state", "tasks"


def _body(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "_version"}


class CheckpointRepository(Repository[Checkpoint]):
    """``store.checkpoints``. Ids are sortable (newest sorts last); a unique prefix of an id
    works wherever an id is asked for."""

    table = "checkpoints"
    record = Checkpoint

    def create_checkpoint(
        self,
        name: str,
        state_snapshot: dict | None = None,
        phase: int | None = None,
        notes: str = "",
        task_progress: dict | None = None,
        files_snapshot: list[str] | None = None,
    ) -> Checkpoint:
        """Snapshot the workflow state and every task in one consistent read (or keep the
        caller's ``state_snapshot``, as the reference does, with the tasks read now)."""
        check_text(name, "name")
        check_text(notes, "notes", empty=True)
        if phase is not None:
            check_count(phase, "phase")
        files = check_strings(files_snapshot, "files_snapshot")

        def run(tx: "Transaction") -> Checkpoint:
            state = tx.get(STATE, STATE_ID)
            tasks = tx.find(TASKS)
            # read again through get: the commit then checks none of them changed, so the
            # snapshot is what the store held at one moment
            again = {d["id"]: d["_version"] for d in tx.get_many(TASKS, [t["id"] for t in tasks])}
            if again != {t["id"]: t["_version"] for t in tasks}:
                raise ConflictError("tasks changed while the checkpoint read them")
            snapshot = state_snapshot if state_snapshot is not None else state
            progress = {s: sum(1 for t in tasks if t["status"] == s) for s in _statuses(tasks)}
            checkpoint_id = new_id()
            doc = {
                "checkpoint_id": checkpoint_id,
                "name": name,
                "notes": notes,
                "phase": phase if phase is not None else (state or {}).get("current_phase", 0),
                "task_progress": task_progress if task_progress is not None else progress,
                "state_snapshot": None if snapshot is None else _body(snapshot),
                "tasks_snapshot": [_body(t) for t in tasks],
                "files_snapshot": files,
                "created_at": now_iso(),
            }
            return self._rec(tx.insert(self.table, doc, id=checkpoint_id))  # type: ignore[return-value]

        return self._atomic(run)

    def _resolve(self, db: Any, checkpoint_id: str) -> dict:
        """The checkpoint with this id or unique id prefix; NotFoundError / ValidationError."""
        check_text(checkpoint_id, "checkpoint_id")
        doc = db.get(self.table, checkpoint_id) if _is_id(checkpoint_id) else None
        if doc is not None:
            return doc
        matches = db.find(
            self.table,
            "checkpoint_id >= :low AND checkpoint_id < :high",
            params={"low": checkpoint_id, "high": checkpoint_id + "\uffff"},
            limit=2,
        )
        if not matches:
            raise NotFoundError(f"no checkpoint {checkpoint_id!r}")
        if len(matches) > 1:
            raise ValidationError(f"checkpoint id prefix {checkpoint_id!r} is ambiguous")
        return matches[0]

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        try:
            return self._rec(self._resolve(self._db, checkpoint_id))
        except NotFoundError:
            return None

    def list_checkpoints(self, limit: int = 100) -> list[Checkpoint]:
        """Newest first."""
        return self._recs(self._db.find(self.table, order_by="-checkpoint_id", limit=limit))

    def get_latest(self) -> Checkpoint | None:
        found = self.list_checkpoints(limit=1)
        return found[0] if found else None

    def delete_checkpoint(self, checkpoint_id: str) -> bool:
        def run(tx: "Transaction") -> bool:
            try:
                doc = self._resolve(tx, checkpoint_id)
            except NotFoundError:
                return False
            return tx.delete(self.table, doc["id"])

        return self._atomic(run)

    def restore_checkpoint(self, checkpoint_id: str) -> Checkpoint:
        """Put the workflow state and the tasks back as they were, in one commit: tasks made
        since are deleted. ``NotFoundError`` for an unknown id (nothing written)."""

        def run(tx: "Transaction") -> Checkpoint:
            doc = self._resolve(tx, checkpoint_id)
            state = doc.get("state_snapshot")
            if state is None:
                tx.delete(STATE, STATE_ID)
            else:
                tx.put(STATE, STATE_ID, {k: v for k, v in state.items() if k != "id"})
            saved = {t["id"]: t for t in doc.get("tasks_snapshot", [])}
            for task in tx.find(TASKS):
                if task["id"] not in saved:
                    tx.delete(TASKS, task["id"])
            for task_id, task in saved.items():
                tx.put(TASKS, task_id, {k: v for k, v in task.items() if k != "id"})
            return self._rec(doc)  # type: ignore[return-value]

        return self._atomic(run)

    def prune_old_checkpoints(self, keep_count: int = 10) -> int:
        """Delete all but the ``keep_count`` newest, in one commit; returns how many."""
        check_count(keep_count, "keep_count")

        def run(tx: "Transaction") -> int:
            old = tx.find(self.table, order_by="-checkpoint_id", offset=keep_count)
            for doc in old:
                tx.delete(self.table, doc["id"])
            return len(old)

        return self._atomic(run)


def _statuses(tasks: list[dict]) -> list[str]:
    return sorted({t["status"] for t in tasks})


def _is_id(text: str) -> bool:
    return bool(ID_RE.fullmatch(text))
