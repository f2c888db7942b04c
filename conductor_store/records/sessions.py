"""Agent CLI sessions (record id = session_id): continuity and cost per task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ValidationError
from ._base import Repository, check_number, check_text
from .models import Session
from .timeutil import now_iso

if TYPE_CHECKING:
    from ..store import Transaction

SESSION_STATUSES = ("active", "closed")


class SessionRepository(Repository[Session]):
    """``store.sessions``."""

    table = "sessions"
    record = Session

    def create_session(self, session_id: str, task_id: str, agent: str) -> Session:
        """An active session; ``ConflictError`` if the id exists."""
        check_text(session_id, "session_id")
        check_text(task_id, "task_id")
        check_text(agent, "agent")
        stamp = now_iso()
        doc = {
            "session_id": session_id,
            "task_id": task_id,
            "agent": agent,
            "status": "active",
            "invocation_count": 0,
            "total_cost_usd": 0.0,
            "created_at": stamp,
            "updated_at": stamp,
            "closed_at": None,
        }
        return self._rec(self._db.insert(self.table, doc, id=session_id))  # type: ignore[return-value]

    def get_session(self, session_id: str) -> Session | None:
        return self.find_by_id(session_id)

    def get_active_session(self, task_id: str) -> Session | None:
        """The newest active session of the task."""
        found = self._db.find(
            self.table, {"task_id": task_id, "status": "active"}, order_by="-created_at", limit=1
        )
        return self._rec(found[0]) if found else None

    def get_task_sessions(self, task_id: str) -> list[Session]:
        """Oldest first."""
        return self._recs(self._db.find(self.table, {"task_id": task_id}, order_by="created_at"))

    def record_invocation(self, session_id: str, cost_usd: float = 0.0) -> Session:
        """Count one invocation and add its cost (one transaction: no update is lost)."""
        check_number(cost_usd, "cost_usd")

        def run(tx: "Transaction") -> Session:
            doc = self._require(tx, session_id)
            if doc["status"] != "active":
                raise ValidationError(f"session {session_id!r} is closed")
            changes = {
                "invocation_count": doc["invocation_count"] + 1,
                "total_cost_usd": doc["total_cost_usd"] + cost_usd,
                "updated_at": now_iso(),
            }
            return self._rec(tx.update(self.table, session_id, changes))  # type: ignore[return-value]

        return self._atomic(run)

    def close_session(self, session_id: str) -> Session:
        """``ValidationError`` if it is closed already, ``NotFoundError`` if unknown."""

        def run(tx: "Transaction") -> Session:
            doc = self._require(tx, session_id)
            if doc["status"] == "closed":
                raise ValidationError(f"session {session_id!r} is already closed")
            return self._close(tx, session_id)

        return self._atomic(run)

    def _close(self, tx: "Transaction", session_id: str) -> Session:
        stamp = now_iso()
        changes = {"status": "closed", "closed_at": stamp, "updated_at": stamp}
        return self._rec(tx.update(self.table, session_id, changes))  # type: ignore[return-value]

    def close_task_sessions(self, task_id: str) -> int:
        """Close every active session of the task in one commit; returns how many."""

        def run(tx: "Transaction") -> int:
            active = tx.find(self.table, {"task_id": task_id, "status": "active"})
            for doc in active:
                self._close(tx, doc["id"])  # its version is checked at commit
            return len(active)

        return self._atomic(run)

    def get_total_cost(self, task_id: str | None = None) -> float:
        where = None if task_id is None else {"task_id": task_id}
        return sum(d["total_cost_usd"] for d in self._db.find(self.table, where))
