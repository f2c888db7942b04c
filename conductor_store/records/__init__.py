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

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import StoreError

if TYPE_CHECKING:  # the real names for type checkers; at run time they load on first use
    from ..store import Store, Transaction
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
    from .patterns import ErrorPatternRepository
    from .schema import TABLES, ensure_schema, index_specs
    from .sessions import SessionRepository
    from .tasks import PRIORITIES, STATUSES, TaskRepository
    from .workflow import GitCommitRepository, WorkflowRepository

#: the project that keeps the error patterns of every project at a location
SHARED_PROJECT = "shared"

#: attribute name on Store/Transaction -> "module:RepositoryClass"
REPOSITORIES: dict[str, str] = {
    "workflow": "workflow:WorkflowRepository",
    "tasks": "tasks:TaskRepository",
    "milestones": "milestones:MilestoneRepository",
    "audit": "audit:AuditRepository",
    "errors": "patterns:ErrorPatternRepository",
    "checkpoints": "checkpoints:CheckpointRepository",
    "sessions": "sessions:SessionRepository",
    "budget": "budget:BudgetRepository",
    "events": "events:EventRepository",
    "git": "workflow:GitCommitRepository",
}

#: exported name -> its module (loaded on first use: ``import conductor_store`` stays fast)
_LAZY = {
    **{path.split(":")[1]: path.split(":")[0] for path in REPOSITORIES.values()},
    **dict.fromkeys(
        (
            "AuditEntry",
            "AuditStatistics",
            "BudgetRecord",
            "Checkpoint",
            "ErrorMatch",
            "ErrorPattern",
            "GitCommit",
            "GroupStatistics",
            "Milestone",
            "Record",
            "Session",
            "Task",
            "WorkflowEvent",
            "WorkflowState",
        ),
        "models",
    ),
    "TABLES": "schema",
    "ensure_schema": "schema",
    "index_specs": "schema",
    "PRIORITIES": "tasks",
    "STATUSES": "tasks",
    "Repository": "_base",
    "check_vector": "_base",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def repository_class(name: str) -> type:
    """The class of the repository ``name`` (a key of :data:`REPOSITORIES`)."""
    module, cls = REPOSITORIES[name].split(":")
    return getattr(importlib.import_module(f".{module}", __name__), cls)


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
    cls = repository_class(name)
    if name != "errors":
        return cls(store, tx)
    shared = shared_store(store)
    if tx is not None and shared is not store:
        raise StoreError(
            "error patterns live in the shared project: use store.errors (its own commits), "
            "or store.errors.using(tx) with a transaction of that store"
        )
    return cls(shared, tx, origin=store.project)


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
    "repository_class",
    "repository",
    "shared_store",
]
