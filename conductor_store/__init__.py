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
    "open",
    "register",
]
