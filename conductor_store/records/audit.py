"""The audit trail of agent invocations and its statistics."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..ids import new_id
from ._base import (
    Repository,
    check_choice,
    check_count,
    check_number,
    check_strings,
    check_text,
)
from .models import AuditEntry, AuditStatistics, GroupStatistics
from .timeutil import ago_iso, now_iso, to_iso

if TYPE_CHECKING:
    from ..store import Transaction

AUDIT_STATUSES = ("pending", "success", "failed", "timeout", "error")
FAILURES = ("failed", "timeout", "error")
FINISHED = ("success", "failed", "timeout", "error")
UNKNOWN_MODEL = "unknown"


def _range(since: datetime | None, until: datetime | None) -> tuple[str | None, dict]:
    """A where over ``timestamp``: since inclusive, until exclusive."""
    parts, params = [], {}
    if since is not None:
        parts.append("timestamp >= :since")
        params["since"] = to_iso(since, "since")
    if until is not None:
        parts.append("timestamp < :until")
        params["until"] = to_iso(until, "until")
    return (" AND ".join(parts) or None), params


def group_figures(docs: list[dict]) -> dict[str, Any]:
    """The figures of :class:`GroupStatistics` over ``docs`` (see AuditStatistics)."""
    finished = [d for d in docs if d["status"] in FINISHED]
    count = {s: sum(1 for d in docs if d["status"] == s) for s in AUDIT_STATUSES}
    durations = [d["duration_seconds"] for d in finished if d.get("duration_seconds") is not None]
    costs = [d["cost_usd"] for d in finished if d.get("cost_usd") is not None]
    total = len(finished)
    return {
        "total": total,
        "success_count": count["success"],
        "failed_count": count["failed"] + count["error"],
        "timeout_count": count["timeout"],
        "error_count": count["error"],
        "pending_count": count["pending"],
        "success_rate": count["success"] / total if total else 0.0,
        "total_cost_usd": sum(costs),
        "total_duration_seconds": sum(durations),
        "avg_duration_seconds": sum(durations) / len(durations) if durations else 0.0,
        "avg_cost_usd": sum(costs) / len(costs) if costs else 0.0,
    }


def _by(docs: list[dict], key: str) -> dict[str, GroupStatistics]:
    groups: dict[str, list[dict]] = {}
    for doc in docs:
        groups.setdefault(doc.get(key) or UNKNOWN_MODEL, []).append(doc)
    return {name: GroupStatistics(**group_figures(group)) for name, group in sorted(groups.items())}


class AuditRepository(Repository[AuditEntry]):
    """``store.audit`` (table ``audit_entries``)."""

    table = "audit_entries"
    record = AuditEntry
    time_field = "timestamp"

    def create_entry(
        self,
        agent: str,
        task_id: str,
        prompt: str,
        session_id: str | None = None,
        command_args: list[str] | None = None,
        metadata: dict | None = None,
        *,
        store_prompt: bool = False,
    ) -> AuditEntry:
        """A pending entry with a new, never-colliding id. The prompt is kept as its sha256
        and length; its text only with ``store_prompt=True``."""
        check_text(agent, "agent")
        check_text(task_id, "task_id")
        check_text(prompt, "prompt", empty=True)
        entry_id = new_id()
        doc = {
            "entry_id": entry_id,
            "agent": agent,
            "task_id": task_id,
            "session_id": session_id,
            "prompt_hash": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
            "prompt_length": len(prompt),
            "prompt": prompt if store_prompt else None,
            "command_args": check_strings(command_args, "command_args"),
            "status": "pending",
            "metadata": metadata or {},
            "timestamp": now_iso(),
        }
        return self._rec(self._db.insert(self.table, doc, id=entry_id))  # type: ignore[return-value]

    def _finish(self, entry_id: str, updates: dict) -> AuditEntry:
        def run(tx: "Transaction") -> AuditEntry:
            self._require(tx, entry_id)
            changes = {**updates, "completed_at": now_iso()}
            return self._rec(tx.update(self.table, entry_id, changes))  # type: ignore[return-value]

        return self._atomic(run)

    def update_result(
        self,
        entry_id: str,
        success: bool,
        exit_code: int,
        duration_seconds: float,
        output_length: int = 0,
        error_length: int = 0,
        cost_usd: float | None = None,
        model: str | None = None,
        parsed_output_type: str | None = None,
    ) -> AuditEntry:
        """Record how the invocation ended: status success or failed."""
        if not isinstance(exit_code, int) or isinstance(exit_code, bool):
            raise ValidationError(f"exit_code must be an integer, not {exit_code!r}")
        updates: dict = {
            "status": "success" if success else "failed",
            "exit_code": exit_code,
            "duration_seconds": check_number(duration_seconds, "duration_seconds"),
            "output_length": check_count(output_length, "output_length"),
            "error_length": check_count(error_length, "error_length"),
            "parsed_output_type": parsed_output_type,
        }
        if cost_usd is not None:
            updates["cost_usd"] = check_number(cost_usd, "cost_usd")
        if model is not None:
            updates["model"] = check_text(model, "model")
        return self._finish(entry_id, updates)

    def mark_timeout(self, entry_id: str, timeout_seconds: float) -> AuditEntry:
        """Status timeout, exit code -1, the timeout as the duration."""
        check_number(timeout_seconds, "timeout_seconds")
        return self._finish(
            entry_id, {"status": "timeout", "exit_code": -1, "duration_seconds": timeout_seconds}
        )

    def mark_error(self, entry_id: str, error_message: str) -> AuditEntry:
        check_text(error_message, "error_message", empty=True)
        return self._finish(
            entry_id,
            {"status": "error", "error_message": error_message, "error_length": len(error_message)},
        )

    # -- finding -------------------------------------------------------------------------
    def _find(self, where: Any, params: dict | None, limit: int, newest: bool) -> list[AuditEntry]:
        check_count(limit, "limit")
        order = ["-timestamp", "-id"] if newest else ["timestamp", "id"]
        return self._recs(
            self._db.find(self.table, where, params=params, order_by=order, limit=limit)
        )

    def find_by_task(self, task_id: str, limit: int = 100) -> list[AuditEntry]:
        """Oldest first."""
        return self._find({"task_id": task_id}, None, limit, newest=False)

    def find_by_agent(self, agent: str, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""
        return self._find({"agent": agent}, None, limit, newest=True)

    def find_by_status(self, status: str, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""
        check_choice(status, AUDIT_STATUSES, "audit status")
        return self._find({"status": status}, None, limit, newest=True)

    def find_since(
        self, since: datetime, until: datetime | None = None, limit: int = 1000
    ) -> list[AuditEntry]:
        """Entries with since <= timestamp < until, oldest first."""
        where, params = _range(since, until)
        return self._find(where, params, limit, newest=False)

    def find_failures(self, since: datetime | None = None, limit: int = 50) -> list[AuditEntry]:
        """Failed, timed-out and error entries since ``since`` (default: the last 24 hours),
        newest first."""
        start = ago_iso(days=1) if since is None else to_iso(since, "since")
        where = "status IN :failures AND timestamp >= :since"
        return self._find(where, {"failures": list(FAILURES), "since": start}, limit, newest=True)

    # -- figures -------------------------------------------------------------------------
    def get_statistics(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> AuditStatistics:
        """Figures over the entries with since <= timestamp < until (see AuditStatistics)."""
        where, params = _range(since, until)
        docs = self._db.find(self.table, where, params=params)  # id order: sums are the same
        by_status = {s: sum(1 for d in docs if d["status"] == s) for s in AUDIT_STATUSES}
        return AuditStatistics(
            **group_figures(docs),
            by_agent=_by(docs, "agent"),
            by_model=_by(docs, "model"),
            by_status=by_status,
        )

    def get_cost_by_task(self) -> dict[str, float]:
        """Total cost_usd per task_id (entries with a cost)."""
        costs: dict[str, float] = {}
        for doc in self._db.find(self.table, "cost_usd IS NOT NULL"):
            costs[doc["task_id"]] = costs.get(doc["task_id"], 0.0) + doc["cost_usd"]
        return costs

    def cleanup_old_entries(self, days: float = 30) -> int:
        """Delete entries older than ``days`` days, in one commit; returns how many."""
        return self._delete_older(days)
