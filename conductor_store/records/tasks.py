"""Tasks (record id = task_id) with dependencies, priorities and ``claim_next``."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from ..errors import ConflictError, NotFoundError, ValidationError
from ._base import (
    Repository,
    check_choice,
    check_count,
    check_fields,
    check_number,
    check_strings,
    check_text,
)
from .models import Task
from .timeutil import now, now_iso, to_iso

if TYPE_CHECKING:
    from ..store import Transaction

STATUSES = ("pending", "in_progress", "completed", "failed", "blocked", "skipped")
#: priority -> rank; claim_next and get_available_tasks take the lowest rank first
PRIORITIES = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_CREATE_ARGS = (
    "user_story",
    "acceptance_criteria",
    "dependencies",
    "priority",
    "milestone_id",
    "estimated_complexity",
    "files_to_create",
    "files_to_modify",
    "test_files",
    "max_attempts",
)
_UPDATABLE = (
    "title",
    *_CREATE_ARGS,
    "status",
    "attempts",
    "linear_issue_id",
    "implementation_notes",
    "error",
)
_ORDER = ["priority_rank", "created_at"]
_CLAIMABLE = "status = 'pending' OR (status = 'in_progress' AND lease_expires_at < :now)"
_CLAIM_ATTEMPTS = 500
#: candidates read per query by claim_next (most claims need only the first page)
_CLAIM_PAGE = 16


def task_doc(task_id: Any, title: Any, **args: Any) -> dict:
    """A validated new task document (dependencies not yet checked for existence)."""
    check_text(task_id, "task_id")
    check_text(title, "title")
    check_fields(args, _CREATE_ARGS, "task")
    priority = check_choice(args.get("priority", "medium"), PRIORITIES, "priority")
    max_attempts = check_count(args.get("max_attempts", 3), "max_attempts", minimum=1)
    stamp = now_iso()
    return {
        "task_id": task_id,
        "title": title,
        "user_story": check_text(args.get("user_story", ""), "user_story", empty=True),
        "acceptance_criteria": check_strings(
            args.get("acceptance_criteria"), "acceptance_criteria"
        ),
        "dependencies": check_strings(args.get("dependencies"), "dependencies"),
        "status": "pending",
        "priority": priority,
        "priority_rank": PRIORITIES[priority],
        "milestone_id": args.get("milestone_id"),
        "estimated_complexity": args.get("estimated_complexity", "medium"),
        "files_to_create": check_strings(args.get("files_to_create"), "files_to_create"),
        "files_to_modify": check_strings(args.get("files_to_modify"), "files_to_modify"),
        "test_files": check_strings(args.get("test_files"), "test_files"),
        "attempts": 0,
        "max_attempts": max_attempts,
        "created_at": stamp,
        "updated_at": stamp,
    }


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle in ``graph`` (task -> dependencies) as a path, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep] if dep in path else [node, dep]
            if state.get(dep) is None:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


class TaskRepository(Repository[Task]):
    """``store.tasks``."""

    table = "tasks"
    record = Task

    # -- creation ------------------------------------------------------------------------
    def create_task(self, task_id: str, title: str, **args: Any) -> Task:
        """Create a task; arguments and defaults as the reference's ``create_task``
        (user_story="", acceptance_criteria=None, dependencies=None, priority="medium",
        milestone_id=None, estimated_complexity="medium", files_to_create=None,
        files_to_modify=None, test_files=None, max_attempts=3)."""
        return self.bulk_create([{"task_id": task_id, "title": title, **args}])[0]

    def bulk_create(self, tasks: Iterable[dict]) -> list[Task]:
        """Create every task in one commit, or none (bad input, a missing dependency, a
        cycle, or an existing task_id raise before anything is written)."""
        docs = []
        for item in tasks:
            if not isinstance(item, dict):
                raise ValidationError(f"each task must be a dict, not {item!r}")
            args = dict(item)
            docs.append(task_doc(args.pop("task_id", None), args.pop("title", None), **args))
        ids = [d["task_id"] for d in docs]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValidationError(f"task_id {dupes[0]!r} appears twice in one bulk_create")

        def run(tx: "Transaction") -> list[Task]:
            batch = {d["task_id"]: d["dependencies"] for d in docs}
            for task_id, deps in batch.items():
                for dep in deps:
                    if dep not in batch and tx.get(self.table, dep) is None:
                        raise NotFoundError(f"task {task_id!r} depends on unknown task {dep!r}")
            cycle = find_cycle(batch)
            if cycle:
                raise ValidationError(f"dependency cycle: {' -> '.join(cycle)}")
            return self._recs(self._insert_new(tx, d["task_id"], d) for d in docs)

        return self._atomic(run)

    # -- reads ---------------------------------------------------------------------------
    def get_task(self, task_id: str) -> Task | None:
        return self.find_by_id(task_id)

    def get_by_status(self, status: str) -> list[Task]:
        """Tasks of one status, best priority first, then oldest."""
        check_choice(status, STATUSES, "task status")
        return self._recs(self._db.find(self.table, {"status": status}, order_by=_ORDER))

    def get_pending_tasks(self) -> list[Task]:
        return self.get_by_status("pending")

    def get_completed_tasks(self) -> list[Task]:
        return self.get_by_status("completed")

    def get_failed_tasks(self) -> list[Task]:
        return self.get_by_status("failed")

    def get_by_milestone(self, milestone_id: str) -> list[Task]:
        return self._recs(
            self._db.find(self.table, {"milestone_id": milestone_id}, order_by=_ORDER)
        )

    def get_available_tasks(self) -> list[Task]:
        """Pending tasks whose dependencies are all completed: critical > high > medium >
        low, then oldest first."""
        pending = self._db.find(self.table, {"status": "pending"}, order_by=_ORDER)
        done = self._completed(self._db, pending)
        return self._recs(d for d in pending if set(d["dependencies"]) <= done)

    def _completed(self, db: Any, docs: list[dict]) -> set[str]:
        deps = sorted({dep for d in docs for dep in d.get("dependencies", ())})
        if not deps:
            return set()
        found = db.find(self.table, "status = 'completed' AND id IN :ids", params={"ids": deps})
        return {d["id"] for d in found}

    def get_progress(self) -> dict:
        docs = self._db.find(self.table)
        counts = {s: sum(1 for d in docs if d["status"] == s) for s in STATUSES}
        total = len(docs)
        return {
            "total": total,
            **counts,
            "completion_rate": counts["completed"] / total if total else 0.0,
        }

    # -- updates -------------------------------------------------------------------------
    def _change(self, task_id: str, compute: Any) -> Task:
        def run(tx: "Transaction") -> Task:
            doc = tx.get(self.table, task_id)
            if doc is None:
                raise NotFoundError(f"no task {task_id!r}")
            updates = {**compute(tx, doc), "updated_at": now_iso()}
            return self._rec(tx.update(self.table, task_id, updates))  # type: ignore[return-value]

        return self._atomic(run)

    def update_task(self, task_id: str, **updates: Any) -> Task:
        check_fields(updates, _UPDATABLE, "task")
        if "status" in updates:
            check_choice(updates["status"], STATUSES, "task status")
        if "priority" in updates:
            updates["priority_rank"] = PRIORITIES[
                check_choice(updates["priority"], PRIORITIES, "priority")
            ]
        if "dependencies" in updates:
            updates["dependencies"] = check_strings(updates["dependencies"], "dependencies")

        def compute(tx: "Transaction", doc: dict) -> dict:
            if "dependencies" in updates:
                self._check_dependencies(tx, task_id, updates["dependencies"])
            return updates

        return self._change(task_id, compute)

    def _check_dependencies(self, tx: "Transaction", task_id: str, deps: list[str]) -> None:
        graph = {d["id"]: d.get("dependencies", []) for d in tx.find(self.table)}
        for dep in deps:
            if dep not in graph:
                raise NotFoundError(f"task {task_id!r} depends on unknown task {dep!r}")
        graph[task_id] = deps
        cycle = find_cycle(graph)
        if cycle:
            raise ValidationError(f"dependency cycle: {' -> '.join(cycle)}")

    def set_status(self, task_id: str, status: str, error: str | None = None) -> Task:
        """Set the status (and the error text, when given); leaving in_progress ends the
        claim's lease."""
        check_choice(status, STATUSES, "task status")
        updates: dict = {"status": status}
        if error is not None:
            updates["error"] = check_text(error, "error", empty=True)
        if status != "in_progress":
            updates["lease_expires_at"] = None
        return self._change(task_id, lambda tx, doc: updates)

    def increment_attempts(self, task_id: str) -> Task:
        return self._change(task_id, lambda tx, doc: {"attempts": doc.get("attempts", 0) + 1})

    # -- claiming ------------------------------------------------------------------------
    def claim_next(self, worker: str, *, lease_seconds: float | None = None) -> Task | None:
        """Claim the best available task for ``worker``: pending (or in progress with an
        expired lease), every dependency completed, best priority, then oldest. It becomes
        in_progress with ``claimed_by=worker``; with ``lease_seconds`` the claim expires then
        and the task is claimable again. Returns None when nothing is available.

        The claim commits only if the task did not change since it was read (a version
        check), so concurrent workers, in any process, never get the same task; a worker that
        loses the race tries the next candidate."""
        check_text(worker, "worker")
        if lease_seconds is not None:
            check_number(lease_seconds, "lease_seconds")
        if self._tx is not None:
            return self._claim_in(self._tx, worker, lease_seconds)
        for _ in range(_CLAIM_ATTEMPTS):
            claimed = self._claim_once(worker, lease_seconds)
            if claimed is not _RETRY:
                return claimed  # type: ignore[return-value]
        raise ConflictError(f"claim_next gave up after {_CLAIM_ATTEMPTS} rounds of conflicts")

    def _candidates(self, db: Any, stamp: str) -> Iterator[dict]:
        """Available tasks in claim order, read a page at a time."""
        for offset in itertools.count(0, _CLAIM_PAGE):
            page = db.find(
                self.table,
                _CLAIMABLE,
                params={"now": stamp},
                order_by=_ORDER,
                limit=_CLAIM_PAGE,
                offset=offset,
            )
            done = self._completed(db, page)
            yield from (d for d in page if set(d.get("dependencies", ())) <= done)
            if len(page) < _CLAIM_PAGE:
                return

    def _claim_once(self, worker: str, lease: float | None) -> Task | None | object:
        """One pass over the candidates, each claimed by a compare-and-set update of the
        version read; ``_RETRY`` when every candidate went to other workers meanwhile."""
        moment = now()
        lost = 0
        for doc in self._candidates(self._store, to_iso(moment)):
            claim = {**_claim_fields(worker, moment, lease), "_version": doc["_version"]}
            try:
                return self._rec(self._store.update(self.table, doc["id"], claim))
            except (ConflictError, NotFoundError):
                lost += 1  # another worker got it first: try the next one
        return _RETRY if lost else None

    def _claim_in(self, tx: "Transaction", worker: str, lease: float | None) -> Task | None:
        """claim_next inside a bound transaction: its commit checks the task's version."""
        moment = now()
        for doc in self._candidates(tx, to_iso(moment)):
            current = tx.get(self.table, doc["id"])
            if current is None or current["_version"] != doc["_version"]:
                raise ConflictError(f"task {doc['id']!r} changed while being claimed")
            claim = _claim_fields(worker, moment, lease)
            return self._rec(tx.update(self.table, doc["id"], claim))
        return None


_RETRY = object()


def _claim_fields(worker: str, moment: datetime, lease: float | None) -> dict:
    stamp = to_iso(moment)
    return {
        "status": "in_progress",
        "claimed_by": worker,
        "claimed_at": stamp,
        "lease_expires_at": None if lease is None else to_iso(moment + timedelta(seconds=lease)),
        "updated_at": stamp,
    }
