"""The records every engine loads and the queries every engine answers (the same for all)."""

from __future__ import annotations

TABLE = "bench"
STATUSES = ("todo", "doing", "done", "blocked")
FILTER = "status = :s AND priority > :p"  # about 10% of records match
FILTER_PARAMS = {"s": "todo", "p": 5}
RARE = "failed"  # the status of 1% of records (i % 100 == 3, otherwise "blocked")
EQ_FILTER = "status = :s"
FEW = "stuck"  # the status of exactly FEW_COUNT records at any size >= FEW_SPAN
FEW_COUNT = 20
FEW_SPAN = 100 * FEW_COUNT  # records i % 100 == 7 below this are "stuck" (else "blocked")
ORDER_FIELD = "seq"
TOP_K = 10
INDEXED_FIELDS = ("status", "seq")
CHUNK = 500  # records per transaction when loading


def make_doc(i: int) -> dict:
    """A ~110-byte task record; :data:`FILTER` matches ~10%, ``status = 'failed'`` 1%,
    ``status = 'stuck'`` the same 20 records at every size from 2,000 (a fixed-size answer)."""
    return {
        "title": f"task {i:07d}",
        "status": _status(i),
        "priority": (i * 7) % 10,
        "owner": f"agent-{i % 5}",
        "seq": i,
        "tags": ["bench", "x"],
    }


def _status(i: int) -> str:
    if i % 100 == 3:
        return RARE
    if i % 100 == 7 and i < FEW_SPAN:
        return FEW
    return STATUSES[i % 4]


def make_id(i: int) -> str:
    return f"r{i:08d}"


def matches(doc: dict) -> bool:
    """:data:`FILTER` in plain Python (what the raw file engine evaluates)."""
    return doc.get("status") == FILTER_PARAMS["s"] and doc.get("priority", 0) > FILTER_PARAMS["p"]


def expected_matches(records: int) -> int:
    return sum(1 for i in range(records) if matches(make_doc(i)))


def expected_eq(records: int, status: str = RARE) -> int:
    """How many of ``records`` records have ``status`` (:data:`RARE`: 1%; :data:`FEW`: 20)."""
    return sum(1 for i in range(records) if _status(i) == status)
