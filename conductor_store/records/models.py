"""The records as small frozen dataclasses, each with ``from_doc`` and ``to_dict``.

``from_doc`` takes a stored document (fields plus ``id``; ``_version`` and unknown fields are
ignored) and turns the stored timestamp strings into aware datetimes; ``to_dict`` gives a
JSON-ready dict again (timestamps as the stored ISO-8601 strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Optional, TypeVar

from .timeutil import from_iso, to_iso

R = TypeVar("R", bound="Record")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Record:
    """Base of every record class."""

    #: fields holding timestamps (stored as strings, given back as datetimes)
    TIMES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_doc(cls: type[R], doc: dict) -> R:
        names = {f.name for f in fields(cls)}
        values = {k: (from_iso(v) if k in cls.TIMES else v) for k, v in doc.items() if k in names}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class WorkflowState(Record):
    TIMES = ("created_at", "updated_at")
    id: str = "state"
    project_dir: str = ""
    current_phase: int = 1
    phase_status: dict = field(default_factory=dict)
    iteration_count: int = 0
    plan: Optional[dict] = None
    validation_feedback: Optional[dict] = None
    verification_feedback: Optional[dict] = None
    implementation_result: Optional[dict] = None
    next_decision: Optional[str] = None
    execution_mode: str = "afk"
    discussion_complete: bool = False
    research_complete: bool = False
    research_findings: Optional[dict] = None
    token_usage: dict = field(default_factory=dict)
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None


@dataclass(frozen=True)
class Task(Record):
    TIMES = ("created_at", "updated_at", "claimed_at", "lease_expires_at")
    id: str
    task_id: str
    title: str
    user_story: str = ""
    acceptance_criteria: list = field(default_factory=list)
    dependencies: list = field(default_factory=list)
    status: str = "pending"
    priority: str = "medium"
    priority_rank: int = 2
    milestone_id: Optional[str] = None
    estimated_complexity: str = "medium"
    files_to_create: list = field(default_factory=list)
    files_to_modify: list = field(default_factory=list)
    test_files: list = field(default_factory=list)
    attempts: int = 0
    max_attempts: int = 3
    linear_issue_id: Optional[str] = None
    implementation_notes: Optional[str] = None
    error: Optional[str] = None
    claimed_by: Optional[str] = None
    claimed_at: Optional[datetime] = None
    lease_expires_at: Optional[datetime] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None


@dataclass(frozen=True)
class Milestone(Record):
    TIMES = ("created_at", "updated_at")
    id: str
    milestone_id: str
    name: str
    description: str = ""
    task_ids: list = field(default_factory=list)
    status: str = "pending"
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None


@dataclass(frozen=True)
class AuditEntry(Record):
    TIMES = ("timestamp", "completed_at")
    id: str
    entry_id: str
    agent: str
    task_id: str
    session_id: Optional[str] = None
    prompt_hash: str = ""
    prompt_length: int = 0
    prompt: Optional[str] = None
    command_args: list = field(default_factory=list)
    exit_code: Optional[int] = None
    status: str = "pending"
    duration_seconds: Optional[float] = None
    output_length: int = 0
    error_length: int = 0
    parsed_output_type: Optional[str] = None
    cost_usd: Optional[float] = None
    model: Optional[str] = None
    error_message: Optional[str] = None
    metadata: dict = field(default_factory=dict)
    timestamp: Optional[datetime] = None
    completed_at: Optional[datetime] = None


@dataclass(frozen=True)
class GroupStatistics(Record):
    """Figures of one agent's or one model's finished entries (see :class:`AuditStatistics`)."""

    total: int = 0
    success_count: int = 0
    failed_count: int = 0
    timeout_count: int = 0
    error_count: int = 0
    pending_count: int = 0
    success_rate: float = 0.0
    total_cost_usd: float = 0.0
    total_duration_seconds: float = 0.0
    avg_duration_seconds: float = 0.0
    avg_cost_usd: float = 0.0


@dataclass(frozen=True)
class AuditStatistics(GroupStatistics):
    """``total`` counts finished entries (success, failed, timeout, error); pending ones are in
    ``pending_count`` only. ``failed_count`` includes the "error" entries (also in
    ``error_count``). Rates and averages divide by finished entries (durations: by the finished
    entries that have one). ``by_agent`` / ``by_model`` hold the same figures per group
    (entries without a model under ``"unknown"``); ``by_status`` counts every entry."""

    by_agent: dict = field(default_factory=dict)
    by_model: dict = field(default_factory=dict)
    by_status: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorPattern(Record):
    TIMES = ("created_at",)
    id: str
    task_id: Optional[str]
    error_type: str
    error_message: str
    error_context: dict = field(default_factory=dict)
    solution: Optional[str] = None
    embedding: list = field(default_factory=list)
    embedding_model: str = ""
    project: Optional[str] = None
    created_at: Optional[datetime] = None


@dataclass(frozen=True)
class ErrorMatch(Record):
    """One answer of ``find_similar``: the pattern and its cosine similarity (-1..1)."""

    pattern: ErrorPattern
    score: float


@dataclass(frozen=True)
class Checkpoint(Record):
    TIMES = ("created_at",)
    id: str
    checkpoint_id: str
    name: str
    notes: str = ""
    phase: int = 0
    task_progress: dict = field(default_factory=dict)
    state_snapshot: Optional[dict] = None
    tasks_snapshot: list = field(default_factory=list)
    files_snapshot: list = field(default_factory=list)
    created_at: Optional[datetime] = None


@dataclass(frozen=True)
class Session(Record):
    TIMES = ("created_at", "updated_at", "closed_at")
    id: str
    session_id: str
    task_id: str
    agent: str
    status: str = "active"
    invocation_count: int = 0
    total_cost_usd: float = 0.0
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    closed_at: Optional[datetime] = None


@dataclass(frozen=True)
class BudgetRecord(Record):
    TIMES = ("created_at",)
    id: str
    agent: str
    cost_usd: float
    task_id: Optional[str] = None
    tokens_input: Optional[int] = None
    tokens_output: Optional[int] = None
    model: Optional[str] = None
    created_at: Optional[datetime] = None


@dataclass(frozen=True)
class WorkflowEvent(Record):
    TIMES = ("created_at",)
    id: str
    event_type: str
    event_data: dict = field(default_factory=dict)
    created_at: Optional[datetime] = None


@dataclass(frozen=True)
class GitCommit(Record):
    TIMES = ("created_at",)
    id: str
    commit_hash: str
    phase: int
    message: str
    task_id: Optional[str] = None
    files_changed: list = field(default_factory=list)
    created_at: Optional[datetime] = None
