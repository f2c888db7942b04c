"""The records' tables and the fields each repository filters and sorts on: the one source
for indexes (:func:`ensure_schema`) and the CLI's ``init-schema``.

Every ``index`` below is a field list some repository method filters or sorts on; ``unique``
ones hold values that identify a record (they are also its record id, so a backend without
unique indexes still never stores two).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backends.base import IndexSpec
from ..errors import StoreError


class TableSchema(NamedTuple):
    table: str
    purpose: str
    #: each tuple is one index: the fields, in order, that a method filters/sorts on
    indexes: tuple
    #: field tuples whose values identify a record
    unique: tuple = ()


TABLES: dict[str, TableSchema] = {
    s.table: s
    for s in (
        TableSchema("workflow_state", "current workflow state (one record, id 'state')", ()),
        TableSchema(
            "tasks",
            "implementation tasks",
            (
                ("status",),
                ("status", "priority_rank", "created_at"),
                ("priority",),
                ("milestone_id",),
                ("created_at",),
            ),
            (("task_id",),),
        ),
        TableSchema(
            "milestones", "task groupings", (("status",), ("created_at",)), (("milestone_id",),)
        ),
        TableSchema(
            "audit_entries",
            "CLI invocation audit trail",
            (("task_id", "timestamp"), ("agent",), ("status",), ("timestamp",)),
            (("entry_id",),),
        ),
        TableSchema(
            "error_patterns",
            "cross-project error patterns with embeddings (project 'shared')",
            (("error_type",), ("task_id",), ("embedding_model",), ("created_at",)),
        ),
        TableSchema(
            "checkpoints",
            "workflow snapshots",
            (("created_at",),),
            (("checkpoint_id",),),
        ),
        TableSchema(
            "sessions",
            "CLI session continuity",
            (("task_id", "status"), ("created_at",)),
            (("session_id",),),
        ),
        TableSchema(
            "budget_records",
            "cost tracking",
            (("task_id",), ("created_at",), ("agent",)),
        ),
        TableSchema("budget_guard", "one record per budget scope, serialises reserve()", ()),
        TableSchema("workflow_events", "workflow event stream", (("event_type",), ("created_at",))),
        TableSchema(
            "git_commits",
            "commits made by the workflow",
            (("phase",), ("task_id",)),
            (("commit_hash",),),
        ),
    )
}


def index_specs() -> list[IndexSpec]:
    """Every index of :data:`TABLES`, unique ones last."""
    specs = [IndexSpec(s.table, tuple(f), False) for s in TABLES.values() for f in s.indexes]
    specs += [IndexSpec(s.table, tuple(f), True) for s in TABLES.values() for f in s.unique]
    return specs


def ensure_schema(store: Any, *, unique: bool | None = None) -> list[IndexSpec]:
    """Declare every index of :data:`TABLES` on ``store`` (idempotent) and return them.

    Uses ``store.ensure_index`` when the Store has it, else the backend's ``ensure_index``.
    Unique indexes are declared only where the backend enforces them (``unique=None``: try, and
    skip those the backend refuses; the record ids already keep those values unique).
    """
    declared = []
    for spec in index_specs():
        if spec.unique and unique is False:
            continue
        try:
            if hasattr(store, "ensure_index"):
                store.ensure_index(spec.table, spec.fields, unique=spec.unique)
            else:
                store.backend.ensure_index(spec)
        except StoreError:
            if spec.unique and unique is None:
                continue
            raise
        declared.append(spec)
    return declared
