"""Typed results: what measurements produce, checks read and reports render.

Everything is a dataclass; :func:`to_dict` / :func:`from_dict` turn a :class:`Report` into the
``--json`` document and back (``--from-json``)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["reached", "NOT reached", "not measured", "not checked"]


@dataclass
class Ref:
    """One reference beside the Store. ``value`` is a rate (or ms for start-up figures);
    ``ratio`` = Store speed ÷ this reference's speed, the median of per-round ratios."""

    name: str
    label: str
    value: float | None = None
    ratio: float | None = None


@dataclass
class Comparison:
    """The Store beside its references for one workload on one target at one size.

    ``kind``: op | query | startup | concurrency | first-find | changes. ``unit`` ends in
    ``/s`` for rates (higher is better) and is ``ms`` for times (lower is better)."""

    kind: str
    target: str
    family: str
    op: str
    title: str
    records: int
    unit: str
    store: float | None = None
    refs: list[Ref] = field(default_factory=list)
    rounds: int = 0
    procs: int = 0
    verified: dict[str, bool] = field(default_factory=dict)
    extra: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def ref(self, name: str) -> Ref | None:
        return next((r for r in self.refs if r.name == name), None)


@dataclass
class Cost:
    records: int
    ops_per_round: int
    us_per_op: float | None


@dataclass
class Growth:
    start: int
    end: int
    factor: float | None


@dataclass
class Scaling:
    """The Store alone at several sizes: µs per operation and the paired growth factors."""

    target: str
    family: str
    op: str
    rounds: int
    costs: list[Cost] = field(default_factory=list)
    growth: list[Growth] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Storage:
    """Disk use after ``updates`` single-record updates of ``records`` records, and how long
    those commits took. ``live_bytes``: the sizes of the live record files
    (``<project>/<table>/*``); ``log_bytes``: the sizes of every file in ``.meta/log``
    (``log_files`` of them, compressed or not); ``disk_bytes``: every file of the project.
    ``slow_commits``: commits over ``slow_ms``."""

    target: str
    family: str
    records: int
    updates: int
    live_bytes: int = 0
    log_bytes: int | None = None
    log_files: int | None = None
    disk_bytes: int | None = None
    p50_commit_ms: float | None = None
    p99_commit_ms: float | None = None
    p999_commit_ms: float | None = None
    max_commit_ms: float | None = None
    slow_commits: int | None = None
    slow_ms: float = 50.0
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Check:
    name: str
    figure: str
    status: Status
    measured: float | None
    goal: float
    unit: str
    higher_is_better: bool
    detail: str
    error: str | None = None

    @property
    def reached(self) -> bool | None:
        return {"reached": True, "NOT reached": False}.get(self.status)


@dataclass
class TargetInfo:
    name: str
    url: str
    family: str
    description: str


@dataclass
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    targets: list[TargetInfo] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    scaling: list[Scaling] = field(default_factory=list)
    storage: list[Storage] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step

    def of_kind(self, kind: str) -> list[Comparison]:
        return [c for c in self.comparisons if c.kind == kind]

    def find(
        self, kind: str, target: str, op: str, records: int | None = None, procs: int = 0
    ) -> Comparison | None:
        """The comparison of ``kind``/``target``/``op`` (at ``records`` unless None)."""
        for c in self.comparisons:
            if (c.kind, c.target, c.op, c.procs) == (kind, target, op, procs) and (
                records is None or c.records == records
            ):
                return c
        return None


def to_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj)


def from_dict(cls: Any, data: Any) -> Any:
    """Rebuild dataclass ``cls`` (nested dataclasses, lists and dicts of them) from ``data``."""
    if dataclasses.is_dataclass(cls) and isinstance(data, dict):
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        make: Any = cls
        return make(**{k: from_dict(hints[k], v) for k, v in data.items() if k in names})
    origin, args = typing.get_origin(cls), typing.get_args(cls)
    if origin is list and isinstance(data, list):
        return [from_dict(args[0], x) for x in data]
    if origin is dict and isinstance(data, dict):
        return {k: from_dict(args[1], v) for k, v in data.items()}
    return data
