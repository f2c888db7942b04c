"""Timestamps of the records: timezone-aware UTC, stored as ISO-8601 strings of one format.

Every timestamp is written as ``2026-12-01T09:00:00.000000Z`` (microseconds, ``Z``), so that
string comparison and sorting agree with time order on every backend; the dataclasses give them
back as aware ``datetime`` objects. Naive datetimes are refused: their zone is unknown.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import ValidationError

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(timezone.utc)


def to_iso(value: datetime, what: str = "timestamp") -> str:
    """``value`` in the stored format; ``ValidationError`` for a naive or non-datetime value."""
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, not {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{what} {value.isoformat()} is naive: give a timezone-aware datetime "
            "(e.g. datetime.now(timezone.utc))"
        )
    return value.astimezone(timezone.utc).strftime(FORMAT)


def now_iso() -> str:
    return to_iso(now())


def ago_iso(days: float = 0.0, seconds: float = 0.0) -> str:
    """The stored form of the time ``days`` + ``seconds`` before now."""
    return to_iso(now() - timedelta(days=days, seconds=seconds))


def from_iso(text: Any) -> datetime | None:
    """A stored timestamp back as an aware datetime (None stays None)."""
    if text is None:
        return None
    if isinstance(text, datetime):
        return text
    return datetime.strptime(text, FORMAT).replace(tzinfo=timezone.utc)


def optional_iso(value: datetime | None, what: str) -> str | None:
    return None if value is None else to_iso(value, what)
