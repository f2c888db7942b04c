"""The workflow state (one record per project, id ``state``) and the git commits it made."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..errors import NotFoundError
from ._base import (
    Repository,
    check_choice,
    check_count,
    check_fields,
    check_number,
    check_strings,
    check_text,
)
from .models import GitCommit, WorkflowState
from .timeutil import now_iso

if TYPE_CHECKING:
    from ..store import Transaction

STATE_ID = "state"
TOTAL_PHASES = 5
PHASE_STATUSES = ("pending", "in_progress", "completed", "failed", "blocked", "skipped")
_FIELDS = [
    f for f in WorkflowState.__dataclass_fields__ if f not in ("id", "created_at", "updated_at")
]


def _check_phase(phase: Any) -> int:
    check_count(phase, "phase", minimum=1)
    if phase > TOTAL_PHASES:
        check_choice(phase, [str(p) for p in range(1, TOTAL_PHASES + 1)], "phase")
    return phase


class WorkflowRepository(Repository[WorkflowState]):
    """``store.workflow``: the project's one workflow-state record."""

    table = "workflow_state"
    record = WorkflowState

    def get_state(self) -> WorkflowState | None:
        return self._rec(self._db.get(self.table, STATE_ID))

    def initialize_state(self, project_dir: str, execution_mode: str = "afk") -> WorkflowState:
        """Create the state (phase 1, every phase pending); an existing state is kept."""
        check_text(project_dir, "project_dir")
        check_text(execution_mode, "execution_mode")

        def run(tx: "Transaction") -> WorkflowState:
            current = tx.get(self.table, STATE_ID)
            if current is not None:
                return self._rec(current)  # type: ignore[return-value]
            stamp = now_iso()
            doc = {
                **WorkflowState().to_dict(),
                "project_dir": project_dir,
                "execution_mode": execution_mode,
                "phase_status": {str(p): "pending" for p in range(1, TOTAL_PHASES + 1)},
                "token_usage": {"tokens_input": 0, "tokens_output": 0, "cost_usd": 0.0},
                "created_at": stamp,
                "updated_at": stamp,
            }
            doc.pop("id")
            return self._rec(tx.insert(self.table, doc, id=STATE_ID))  # type: ignore[return-value]

        return self._atomic(run)

    def _mutate(self, change: Callable[[dict], dict]) -> WorkflowState:
        """Read the state, compute ``change(state)`` and write it, in one transaction."""

        def run(tx: "Transaction") -> WorkflowState:
            state = tx.get(self.table, STATE_ID)
            if state is None:
                raise NotFoundError("the workflow state is not initialised: call initialize_state")
            updates = {**change(state), "updated_at": now_iso()}
            return self._rec(tx.update(self.table, STATE_ID, updates))  # type: ignore[return-value]

        return self._atomic(run)

    def update_state(self, **updates: Any) -> WorkflowState:
        check_fields(updates, _FIELDS, "workflow state")
        return self._mutate(lambda state: updates)

    def set_phase(self, phase: int, status: str = "in_progress") -> WorkflowState:
        _check_phase(phase)
        check_choice(status, PHASE_STATUSES, "phase status")
        return self._mutate(
            lambda s: {
                "current_phase": phase,
                "phase_status": {**s.get("phase_status", {}), str(phase): status},
            }
        )

    def increment_iteration(self) -> WorkflowState:
        return self._mutate(lambda s: {"iteration_count": s.get("iteration_count", 0) + 1})

    def set_plan(self, plan: dict) -> WorkflowState:
        return self._mutate(lambda s: {"plan": plan})

    def _feedback(self, key: str, agent: str, feedback: Any) -> WorkflowState:
        check_text(agent, "agent")
        return self._mutate(lambda s: {key: {**(s.get(key) or {}), agent: feedback}})

    def set_validation_feedback(self, agent: str, feedback: Any) -> WorkflowState:
        return self._feedback("validation_feedback", agent, feedback)

    def set_verification_feedback(self, agent: str, feedback: Any) -> WorkflowState:
        return self._feedback("verification_feedback", agent, feedback)

    def set_implementation_result(self, result: dict) -> WorkflowState:
        return self._mutate(lambda s: {"implementation_result": result})

    def set_decision(self, decision: str) -> WorkflowState:
        check_text(decision, "decision")
        return self._mutate(lambda s: {"next_decision": decision})

    def add_token_usage(
        self, tokens_input: int = 0, tokens_output: int = 0, cost_usd: float = 0.0
    ) -> WorkflowState:
        check_count(tokens_input, "tokens_input")
        check_count(tokens_output, "tokens_output")
        check_number(cost_usd, "cost_usd")

        def change(state: dict) -> dict:
            usage = state.get("token_usage") or {}
            return {
                "token_usage": {
                    **usage,
                    "tokens_input": usage.get("tokens_input", 0) + tokens_input,
                    "tokens_output": usage.get("tokens_output", 0) + tokens_output,
                    "cost_usd": usage.get("cost_usd", 0.0) + cost_usd,
                }
            }

        return self._mutate(change)

    def reset_state(self) -> WorkflowState:
        """Back to phase 1 with nothing done; project_dir, mode and created_at are kept."""
        blank = WorkflowState().to_dict()

        def change(state: dict) -> dict:
            keep = ("project_dir", "execution_mode", "created_at", "id")
            fresh = {k: v for k, v in blank.items() if k not in keep}
            fresh["phase_status"] = {str(p): "pending" for p in range(1, TOTAL_PHASES + 1)}
            fresh["token_usage"] = {"tokens_input": 0, "tokens_output": 0, "cost_usd": 0.0}
            return fresh

        return self._mutate(change)

    def reset_to_phase(self, phase: int) -> WorkflowState:
        """Make ``phase`` current and every phase from it on pending again."""
        _check_phase(phase)

        def change(state: dict) -> dict:
            statuses = dict(state.get("phase_status") or {})
            for p in range(phase, TOTAL_PHASES + 1):
                statuses[str(p)] = "pending"
            return {"current_phase": phase, "phase_status": statuses}

        return self._mutate(change)

    def get_summary(self) -> dict:
        state = self.get_state()
        if state is None:
            return {"status": "not_initialized"}
        completed = [p for p, s in sorted(state.phase_status.items()) if s == "completed"]
        stamps = state.to_dict()
        return {
            "project": self._store.project,
            "current_phase": state.current_phase,
            "completed_phases": len(completed),
            "total_phases": TOTAL_PHASES,
            "iteration_count": state.iteration_count,
            "execution_mode": state.execution_mode,
            "has_plan": state.plan is not None,
            "has_validation": state.validation_feedback is not None,
            "has_implementation": state.implementation_result is not None,
            "has_verification": state.verification_feedback is not None,
            "token_usage": state.token_usage,
            "total_commits": self._db.count(GitCommitRepository.table),
            "created_at": stamps["created_at"],
            "updated_at": stamps["updated_at"],
        }

    # -- git commits (kept here as in the reference; also ``store.git``) -----------------
    def record_git_commit(
        self,
        phase: int,
        commit_hash: str,
        message: str,
        task_id: str | None = None,
        files_changed: list[str] | None = None,
    ) -> GitCommit:
        return GitCommitRepository(self._store, self._tx).record_git_commit(
            phase, commit_hash, message, task_id, files_changed
        )

    def get_git_commits(
        self, phase: int | None = None, task_id: str | None = None
    ) -> list[GitCommit]:
        return GitCommitRepository(self._store, self._tx).get_git_commits(phase, task_id)


class GitCommitRepository(Repository[GitCommit]):
    """``store.git``: commits the workflow made (record id = the commit hash, so unique)."""

    table = "git_commits"
    record = GitCommit

    def record_git_commit(
        self,
        phase: int,
        commit_hash: str,
        message: str,
        task_id: str | None = None,
        files_changed: list[str] | None = None,
    ) -> GitCommit:
        """``ConflictError`` if the commit hash was recorded already."""
        check_count(phase, "phase")
        check_text(commit_hash, "commit_hash")
        check_text(message, "message", empty=True)
        doc = {
            "commit_hash": commit_hash,
            "phase": phase,
            "message": message,
            "task_id": task_id,
            "files_changed": check_strings(files_changed, "files_changed"),
            "created_at": now_iso(),
        }
        return self._rec(self._db.insert(self.table, doc, id=commit_hash))  # type: ignore[return-value]

    def get_git_commits(
        self, phase: int | None = None, task_id: str | None = None
    ) -> list[GitCommit]:
        """Oldest first."""
        where = {k: v for k, v in (("phase", phase), ("task_id", task_id)) if v is not None}
        return self._recs(self._db.find(self.table, where or None, order_by="created_at"))
