"""The orchestrator's records: nine tables and their repositories, on the public Store API.

Every repository is an attribute of a store (``store.tasks``, ``store.audit``, ...) and of a
transaction (``tx.tasks``: the calls commit together), and works the same on every backend::

    store.tasks.create_task("T1", "Write parser", priority="high")
    task = store.tasks.claim_next(worker="claude-1")
    entry = store.audit.create_entry(agent="claude", task_id="T1", prompt="Implement X")

See ``docs/records.md``. :mod:`.schema` declares the fields each table is filtered and sorted
on (:func:`ensure_schema` declares them as indexes); :mod:`.timeutil` the timestamp format;
:mod:`.embedding` the built-in text embedding of error patterns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ._base import Repository, check_vector
from .audit import AuditRepository
from .budget import BudgetRepository
from .checkpoints import CheckpointRepository
from .events import EventRepository
from .milestones import MilestoneRepository
from .models import (
    AuditEntry,
    AuditStatistics,
    BudgetRecord,
    Checkpoint,
    ErrorMatch,
    ErrorPattern,
    GitCommit,
    GroupStatistics,
    Milestone,
    Record,
    Session,
    Task,
    WorkflowEvent,
    WorkflowState,
)
from .patterns import SHARED_PROJECT, ErrorPatternRepository
from .schema import TABLES, ensure_schema, index_specs
from .sessions import SessionRepository
from .tasks import PRIORITIES, STATUSES, TaskRepository
from .workflow import GitCommitRepository, WorkflowRepository

if TYPE_CHECKING:
    from ..store import Store, Transaction

#: attribute name on Store/Transaction -> repository class
REPOSITORIES: dict[str, type] = {
    "workflow": WorkflowRepository,
    "tasks": TaskRepository,
    "milestones": MilestoneRepository,
    "audit": AuditRepository,
    "errors": ErrorPatternRepository,
    "checkpoints": CheckpointRepository,
    "sessions": SessionRepository,
    "budget": BudgetRepository,
    "events": EventRepository,
    "git": GitCommitRepository,
}

_SHARED = "_records_shared_store"


def remember_open(store: "Store", url: str, options: dict) -> "Store":
    """Note how ``store`` was opened, so that :func:`shared_store` can open the shared
    project at the same location (called by ``conductor_store.open``)."""
    store.__dict__["_records_open_args"] = (url, dict(options))
    return store


def shared_store(store: "Store") -> "Store":
    """The store of the project :data:`SHARED_PROJECT` at ``store``'s location: ``store``
    itself when it is that project or was not made by ``open()`` (then nothing is shared),
    else a second store opened on the same URL, closed with ``store``."""
    if store.project == SHARED_PROJECT:
        return store
    shared = store.__dict__.get(_SHARED)
    if shared is None:
        args = store.__dict__.get("_records_open_args")
        if args is None:
            return store
        from ..store import open as open_store

        mine = open_store(args[0], project=SHARED_PROJECT, **args[1])
        shared = store.__dict__.setdefault(_SHARED, mine)
        if shared is not mine:  # another thread opened it first
            mine.close()
    return shared


def close_shared(store: "Store") -> None:
    """Close the shared store :func:`shared_store` opened for ``store`` (if any)."""
    shared = store.__dict__.pop(_SHARED, None)
    if shared is not None and shared is not store:
        shared.close()


def repository(store: "Store", name: str, tx: "Transaction | None" = None) -> Any:
    """The repository ``name`` (a key of :data:`REPOSITORIES`) of ``store``, inside ``tx``
    when given."""
    cls = REPOSITORIES[name]
    if cls is not ErrorPatternRepository:
        return cls(store, tx)
    shared = shared_store(store)
    if tx is not None and shared is not store:
        raise StoreError(
            "error patterns live in the shared project: use store.errors (its own commits), "
            "or store.errors.using(tx) with a transaction of that store"
        )
    return ErrorPatternRepository(shared, tx, origin=store.project)


__all__ = [
    "PRIORITIES",
    "REPOSITORIES",
    "SHARED_PROJECT",
    "STATUSES",
    "TABLES",
    "AuditEntry",
    "AuditRepository",
    "AuditStatistics",
    "BudgetRecord",
    "BudgetRepository",
    "Checkpoint",
    "CheckpointRepository",
    "ErrorMatch",
    "ErrorPattern",
    "ErrorPatternRepository",
    "EventRepository",
    "GitCommit",
    "GitCommitRepository",
    "GroupStatistics",
    "Milestone",
    "MilestoneRepository",
    "Record",
    "Session",
    "SessionRepository",
    "Task",
    "TaskRepository",
    "WorkflowEvent",
    "WorkflowRepository",
    "WorkflowState",
    "Repository",
    "check_vector",
    "close_shared",
    "ensure_schema",
    "index_specs",
    "remember_open",
    "repository",
    "shared_store",
]
