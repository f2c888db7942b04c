"""The seed's module-level helpers: one repository per project, on the configured store.

``get_audit_repository("my-project")`` opens (once per project and URL, then cached) a store on
the configured URL -- ``$CONDUCTOR_STORE_URL``, then ``$SURREAL_URL``, else JSON files in the
user data directory -- and returns its ``audit`` repository; likewise one helper per
repository. ``close_repositories()`` closes every store they opened.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..urls import default_url, split_scheme

if TYPE_CHECKING:
    from ..store import Store
    from . import (
        AuditRepository,
        BudgetRepository,
        CheckpointRepository,
        ErrorPatternRepository,
        EventRepository,
        GitCommitRepository,
        MilestoneRepository,
        SessionRepository,
        TaskRepository,
        WorkflowRepository,
    )

#: URL schemes served by SurrealDB (embedded or a server)
SURREAL_SCHEMES = ("mem", "memory", "surrealkv", "file", "ws", "wss", "http", "https")

_stores: dict[tuple[str, str], "Store"] = {}
_lock = threading.Lock()


def is_surrealdb_enabled() -> bool:
    """True when the configured URL is a SurrealDB one (embedded or a server)."""
    return split_scheme(default_url())[0] in SURREAL_SCHEMES


def project_store(project: str = "default") -> "Store":
    """The cached store of ``project`` on the configured URL (opened on first use)."""
    from ..store import open as open_store

    url = default_url()
    with _lock:
        store = _stores.get((url, project))
        if store is None:
            store = _stores[(url, project)] = open_store(url, project=project)
        return store


def close_repositories() -> None:
    """Close every store the helpers opened (the next helper call opens a new one)."""
    with _lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.close()


def _get(name: str, project: str) -> Any:
    return getattr(project_store(project), name)


def get_workflow_repository(project: str = "default") -> "WorkflowRepository":
    return _get("workflow", project)


def get_task_repository(project: str = "default") -> "TaskRepository":
    return _get("tasks", project)


def get_milestone_repository(project: str = "default") -> "MilestoneRepository":
    return _get("milestones", project)


def get_audit_repository(project: str = "default") -> "AuditRepository":
    return _get("audit", project)


def get_error_pattern_repository(project: str = "default") -> "ErrorPatternRepository":
    return _get("errors", project)


def get_checkpoint_repository(project: str = "default") -> "CheckpointRepository":
    return _get("checkpoints", project)


def get_session_repository(project: str = "default") -> "SessionRepository":
    return _get("sessions", project)


def get_budget_repository(project: str = "default") -> "BudgetRepository":
    return _get("budget", project)


def get_event_repository(project: str = "default") -> "EventRepository":
    return _get("events", project)


def get_git_commit_repository(project: str = "default") -> "GitCommitRepository":
    return _get("git", project)


#: helper name -> repository attribute (the async facade builds its twins from this)
HELPERS = {
    "get_workflow_repository": "workflow",
    "get_task_repository": "tasks",
    "get_milestone_repository": "milestones",
    "get_audit_repository": "audit",
    "get_error_pattern_repository": "errors",
    "get_checkpoint_repository": "checkpoints",
    "get_session_repository": "sessions",
    "get_budget_repository": "budget",
    "get_event_repository": "events",
    "get_git_commit_repository": "git",
}
