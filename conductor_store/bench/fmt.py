"""Number formatting shared by the checks and the renderers."""

from __future__ import annotations


def num(x: float | None, digits: int | None = None) -> str:
    """``1,234`` / ``12.3`` / ``0.42``; ``n/a`` for None."""
    if x is None:
        return "n/a"
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    return f"{x:,.{digits}f}"


def ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def cell(x: float | None) -> str:
    return "—" if x is None else num(x)


def count(x: int | None) -> str:
    return "—" if x is None else f"{x:,}"
