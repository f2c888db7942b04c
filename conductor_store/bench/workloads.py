"""Workloads: ``run(engine, n)`` does ``n`` operations; the same for the Store and every raw
engine, for the command and for ``benchmarks/`` (pytest-benchmark)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .data import FEW, FEW_COUNT, RARE, TOP_K, expected_eq, expected_matches, make_doc, make_id
from .engines import Engine


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    unit: str  # per second
    run: Callable[[Engine, int], None]
    items: int = 1  # records per operation (the rate counts records)
    reads: bool = False
    commits: bool = False  # one commit per operation (rounds cover whole prune periods)


def _insert(eng: Engine, n: int) -> None:
    for i in eng.fresh_ids(n):
        eng.insert(make_id(i), make_doc(i))


def _get(eng: Engine, n: int) -> None:
    for i in eng.sample_ids(n):
        eng.get(make_id(i))


def _update(eng: Engine, n: int) -> None:
    for k, i in enumerate(eng.sample_ids(n)):
        eng.update(make_id(i), {"owner": f"agent-{k % 7}", "note": "touched"})


def _tx500(eng: Engine, n: int) -> None:
    for _ in range(n):
        eng.tx([(make_id(i), make_doc(i)) for i in eng.fresh_ids(500)])


def _repeat(method: Callable[[Engine], object]) -> Callable[[Engine, int], None]:
    def run(eng: Engine, n: int) -> None:
        for _ in range(n):
            method(eng)

    return run


OPS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("get", "get by id", "ops/s", _get, reads=True),
        Workload("find", "find with filter", "queries/s", _repeat(lambda e: e.find()), reads=True),
        Workload(
            "count", "count with filter", "queries/s", _repeat(lambda e: e.count()), reads=True
        ),
        Workload("update", "update (merge)", "ops/s", _update, commits=True),
        Workload("insert", "insert (one commit)", "ops/s", _insert, commits=True),
        Workload("tx500", "500-record tx", "records/s", _tx500, items=500),
    )
}

QUERIES: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "find_eq",
            "find status = x (1%)",
            "queries/s",
            _repeat(lambda e: e.find_eq(RARE)),
            reads=True,
        ),
        Workload(
            "count_eq",
            "count status = x (1%)",
            "queries/s",
            _repeat(lambda e: e.count_eq(RARE)),
            reads=True,
        ),
        Workload(
            "find_few",
            f"find status = y ({FEW_COUNT})",
            "queries/s",
            _repeat(lambda e: e.find_eq(FEW)),
            reads=True,
        ),
        Workload(
            "top_asc",
            "top 10 by seq",
            "queries/s",
            _repeat(lambda e: e.top(False)),
            reads=True,
        ),
        Workload(
            "top_desc",
            "top 10 by seq desc",
            "queries/s",
            _repeat(lambda e: e.top(True)),
            reads=True,
        ),
    )
}

WORKLOADS: dict[str, Workload] = {**OPS, **QUERIES}


def verify(eng: Engine, op: str, records: int) -> None:
    """Refuse to time an engine that answers wrongly (a fast wrong answer is no benchmark)."""
    got: object
    want: object
    if op == "get":
        got, want = eng.get(make_id(eng.sample_ids(1)[0])) is not None, True
        eng.rewind()
    elif op in ("find", "count"):
        got, want = getattr(eng, op)(), expected_matches(records)
    elif op in ("find_eq", "count_eq"):
        got, want = getattr(eng, op)(RARE), expected_eq(records)
    elif op == "find_few":
        got, want = eng.find_eq(FEW), expected_eq(records, FEW)
    elif op in ("top_asc", "top_desc"):
        desc = op == "top_desc"
        got = eng.top(desc)
        want = (
            list(range(records - 1, max(-1, records - 1 - TOP_K), -1))
            if desc
            else list(range(min(TOP_K, records)))
        )
    else:
        return
    if got != want:
        raise AssertionError(f"{eng.label}: {op} answered {got!r}, expected {want!r}")
