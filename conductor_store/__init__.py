"""conductor-store: state for agent-workflow orchestrators on JSON files or SurrealDB.

>>> import conductor_store as cs
>>> with cs.open("json:///tmp/demo") as store:      # doctest: +SKIP
...     store.insert("tasks", {"title": "Write parser"}, id="T1")
"""

from .backends import register
from .backends.base import Backend, Change, CommitResult, IndexSpec, Write
from .errors import (
    BackendUnavailableError,
    ChangesPrunedError,
    CommitUnknownError,
    ConflictError,
    CorruptRecordError,
    NotFoundError,
    QueryError,
    StoreError,
    ValidationError,
)

# -- records: the seed's module-level helpers (conductor_store.records.factories) ----------
from .records.factories import (
    close_repositories,
    get_audit_repository,
    get_budget_repository,
    get_checkpoint_repository,
    get_error_pattern_repository,
    get_event_repository,
    get_git_commit_repository,
    get_milestone_repository,
    get_session_repository,
    get_task_repository,
    get_workflow_repository,
    is_surrealdb_enabled,
)
from .store import Store, Transaction, open

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "Change",
    "ChangesPrunedError",
    "CommitResult",
    "CommitUnknownError",
    "ConflictError",
    "CorruptRecordError",
    "IndexSpec",
    "NotFoundError",
    "QueryError",
    "Store",
    "StoreError",
    "Transaction",
    "ValidationError",
    "Write",
    "__version__",
    "close_repositories",
    "get_audit_repository",
    "get_budget_repository",
    "get_checkpoint_repository",
    "get_error_pattern_repository",
    "get_event_repository",
    "get_git_commit_repository",
    "get_milestone_repository",
    "get_session_repository",
    "get_task_repository",
    "get_workflow_repository",
    "is_surrealdb_enabled",
    "open",
    "register",
]
