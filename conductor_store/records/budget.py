"""Spending: one record per cost, totals, summaries and a budget that cannot be overspent.

Every write also bumps one guard record (table ``budget_guard``), so that a ``reserve`` that
read the totals conflicts with any spend committed meanwhile and is retried: concurrent
reservations, in any process, never exceed the limit together.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..ids import new_id
from ._base import Repository, check_count, check_number, check_text
from .models import BudgetRecord
from .timeutil import now, now_iso, to_iso

if TYPE_CHECKING:
    from ..store import Transaction

GUARD_TABLE, GUARD_ID = "budget_guard", "all"


class BudgetRepository(Repository[BudgetRecord]):
    """``store.budget`` (table ``budget_records``)."""

    table = "budget_records"
    record = BudgetRecord

    def _spend_doc(self, agent: Any, cost_usd: Any, task_id: Any, **extra: Any) -> dict:
        check_text(agent, "agent")
        check_number(cost_usd, "cost_usd")
        for name in ("tokens_input", "tokens_output"):
            if extra.get(name) is not None:
                check_count(extra[name], name)
        if extra.get("model") is not None:
            check_text(extra["model"], "model")
        return {"agent": agent, "cost_usd": cost_usd, "task_id": task_id, **extra}

    def _insert(self, tx: "Transaction", doc: dict) -> BudgetRecord:
        guard = tx.get(GUARD_TABLE, GUARD_ID)
        count = 0 if guard is None else guard["records"]
        tx.put(GUARD_TABLE, GUARD_ID, {"records": count + 1})
        record = {**doc, "created_at": now_iso()}
        return self._rec(tx.insert(self.table, record, id=new_id()))  # type: ignore[return-value]

    def record_spend(
        self,
        agent: str,
        cost_usd: float,
        task_id: str | None = None,
        tokens_input: int | None = None,
        tokens_output: int | None = None,
        model: str | None = None,
    ) -> BudgetRecord:
        doc = self._spend_doc(
            agent,
            cost_usd,
            task_id,
            tokens_input=tokens_input,
            tokens_output=tokens_output,
            model=model,
        )
        return self._atomic(lambda tx: self._insert(tx, doc))

    def reserve(
        self,
        amount: float,
        limit: float,
        *,
        agent: str = "reserve",
        task_id: str | None = None,
        model: str | None = None,
    ) -> BudgetRecord | None:
        """Record a spend of ``amount`` only if the total (of ``task_id``, else of every
        record) stays within ``limit``; check and record are one commit. Returns the record,
        or None when it would exceed the limit (then nothing is written)."""
        check_number(limit, "limit")
        doc = self._spend_doc(agent, amount, task_id, model=model)

        def run(tx: "Transaction") -> BudgetRecord | None:
            tx.get(GUARD_TABLE, GUARD_ID)  # read first: a spend committed later conflicts
            if self._total(tx, task_id, None) + amount > limit:
                return None
            return self._insert(tx, doc)

        return self._atomic(run)

    # -- reads ---------------------------------------------------------------------------
    def _records(self, db: Any, where: dict, since: datetime | None, until: datetime | None):
        parts = [f"{k} = :{k}" for k in where]
        params = dict(where)
        if since is not None:
            parts.append("created_at >= :since")
            params["since"] = to_iso(since, "since")
        if until is not None:
            parts.append("created_at < :until")
            params["until"] = to_iso(until, "until")
        return db.find(
            self.table, " AND ".join(parts) or None, params=params, order_by=["created_at", "id"]
        )

    def _total(self, db: Any, task_id: str | None, since: datetime | None) -> float:
        where = {} if task_id is None else {"task_id": task_id}
        return sum(d["cost_usd"] for d in self._records(db, where, since, None))

    def get_total_cost(self, task_id: str | None = None, since: datetime | None = None) -> float:
        return self._total(self._db, task_id, since)

    def get_task_cost(self, task_id: str) -> float:
        return self._total(self._db, task_id, None)

    def get_remaining_budget(self, budget_limit: float, task_id: str | None = None) -> float:
        check_number(budget_limit, "budget_limit")
        return budget_limit - self.get_total_cost(task_id)

    def can_spend(self, amount: float, budget_limit: float, task_id: str | None = None) -> bool:
        """Would ``amount`` more stay within ``budget_limit``? (Use :meth:`reserve` to check
        and record in one commit.)"""
        check_number(amount, "amount")
        check_number(budget_limit, "budget_limit")
        return self.get_total_cost(task_id) + amount <= budget_limit

    def get_summary(self, since: datetime | None = None, until: datetime | None = None) -> dict:
        docs = self._records(self._db, {}, since, until)
        summary: dict = {
            "total_cost_usd": sum(d["cost_usd"] for d in docs),
            "total_tokens_input": sum(d.get("tokens_input") or 0 for d in docs),
            "total_tokens_output": sum(d.get("tokens_output") or 0 for d in docs),
            "record_count": len(docs),
        }
        for key, label in (("agent", "by_agent"), ("task_id", "by_task"), ("model", "by_model")):
            groups: dict[str, float] = {}
            for doc in docs:
                name = doc.get(key) or "unknown"
                groups[name] = groups.get(name, 0.0) + doc["cost_usd"]
            summary[label] = dict(sorted(groups.items()))
        return summary

    def get_daily_costs(self, days: int = 7) -> list[dict]:
        """``[{date, cost_usd, record_count}]`` for each of the last ``days`` UTC days
        (today included), oldest first; days without spending show 0."""
        check_count(days, "days", minimum=1)
        today = now().date()
        first = today - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=now().tzinfo)
        rows = {
            (first + timedelta(days=i)).isoformat(): {"cost_usd": 0.0, "record_count": 0}
            for i in range(days)
        }
        for doc in self._records(self._db, {}, start, None):
            row = rows.get(doc["created_at"][:10])
            if row is not None:
                row["cost_usd"] += doc["cost_usd"]
                row["record_count"] += 1
        return [{"date": day, **row} for day, row in rows.items()]
