"""Workflow events: an append-only stream, listed and filtered by type and time, pruned by
age (watching them live comes with the monitoring issue)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..ids import new_id
from ._base import Repository, check_count, check_text
from .models import WorkflowEvent
from .timeutil import now_iso, to_iso

if TYPE_CHECKING:
    pass

#: the reference's intended retention
DEFAULT_RETENTION_DAYS = 7


class EventRepository(Repository[WorkflowEvent]):
    """``store.events`` (table ``workflow_events``)."""

    table = "workflow_events"
    record = WorkflowEvent

    def emit(self, event_type: str, data: dict | None = None) -> WorkflowEvent:
        check_text(event_type, "event_type")
        doc = {"event_type": event_type, "event_data": data or {}, "created_at": now_iso()}
        return self._rec(self._db.insert(self.table, doc, id=new_id()))  # type: ignore[return-value]

    def list_events(
        self,
        event_type: str | list[str] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[WorkflowEvent]:
        """Events of one type (or any of a list), with since <= created_at < until, in the
        order they were emitted (``newest_first`` reverses it)."""
        check_count(limit, "limit")
        parts: list[str] = []
        params: dict[str, Any] = {}
        if event_type is not None:
            types = [event_type] if isinstance(event_type, str) else list(event_type)
            parts.append("event_type IN :types")
            params["types"] = types
        if since is not None:
            parts.append("created_at >= :since")
            params["since"] = to_iso(since, "since")
        if until is not None:
            parts.append("created_at < :until")
            params["until"] = to_iso(until, "until")
        order = ["-created_at", "-id"] if newest_first else ["created_at", "id"]
        where = " AND ".join(parts) or None
        docs = self._db.find(self.table, where, params=params, order_by=order, limit=limit)
        return self._recs(docs)

    def get_by_type(self, event_type: str, limit: int = 100) -> list[WorkflowEvent]:
        return self.list_events(event_type, limit=limit)

    def prune_old_events(self, days: float = DEFAULT_RETENTION_DAYS) -> int:
        """Delete events older than ``days`` days, in one commit; returns how many."""
        return self._delete_older(days)
