"""How values compare, group, sort and combine -- the rules of ``docs/query.md``, in one place.

Kinds and their order come from :mod:`conductor_store.query`: NULL < booleans < numbers <
strings < arrays < objects. Three-valued results are ``True``, ``False`` and ``None`` (unknown).
"""

from __future__ import annotations

import json
import math
import operator
import re
from functools import lru_cache
from typing import Any

from ..query import _KIND, ARRAY, BOOL, NULL, NUMBER, OBJECT, STRING
from ..validation import INT_MAX, INT_MIN

__all__ = ["ARRAY", "BOOL", "NULL", "NUMBER", "OBJECT", "STRING"]


def canon(value: Any) -> Any:
    """A hashable key equal for values the language calls equal: ``1`` and ``1.0`` share one,
    ``true`` and ``1`` do not; arrays and objects by content."""
    cls = value.__class__
    if cls is str or value is None:
        return value
    kind = _KIND[cls]
    if kind == OBJECT:
        return (OBJECT, tuple(sorted((k, canon(v)) for k, v in value.items())))
    if kind == ARRAY:
        return (ARRAY, tuple(canon(v) for v in value))
    if kind == STRING:
        return str(value)
    return (kind, value)


def display(value: Any) -> Any:
    """The canonical form of a group's key: a float with an integral value (below 2**53) shows
    as an integer, so the group of ``1`` and ``1.0`` reads the same whichever came first."""
    cls = value.__class__
    if cls is float:
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dict):
        return {k: display(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [display(v) for v in value]
    return value


def sort_key(value: Any) -> tuple:
    """``find``'s total order: NULL < bool < number < string < arrays (all equal) < objects."""
    kind = _KIND[value.__class__]
    return (kind, value) if kind < ARRAY else (kind, 0)


def rank(value: Any) -> tuple:
    """A finer total order for groups' default order: arrays and objects by their JSON text."""
    kind = _KIND[value.__class__]
    if kind < ARRAY:
        return (kind, value)
    return (kind, json.dumps(display(value), sort_keys=True, ensure_ascii=False))


_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def compare(op: str, a: Any, b: Any) -> bool | None:
    """``a op b`` with ``find``'s semantics: NULL gives unknown; across kinds ``=`` is false,
    ``!=`` true, orderings unknown; arrays and objects are equal by content, never ordered."""
    ka, kb = _KIND[a.__class__], _KIND[b.__class__]
    if ka == NULL or kb == NULL:
        return None
    if ka != kb:
        return False if op == "=" else True if op == "!=" else None
    if ka >= ARRAY:
        if op in ("=", "!="):
            return (canon(a) == canon(b)) == (op == "=")
        return None
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    return _ORDERING[op](a, b)


def truth(value: Any) -> bool | None:
    """A value as an operand of AND/OR/NOT: booleans are themselves, anything else unknown."""
    return value if value is True or value is False else None


def is_number(value: Any) -> bool:
    return _KIND[value.__class__] == NUMBER


def arith(op: str, a: Any, b: Any) -> Any:
    """``a op b`` on numbers; NULL when an operand is not a number, on division by zero and
    when the result leaves the JSON range (64-bit integers, finite floats)."""
    if not (is_number(a) and is_number(b)):
        return None
    if op == "+":
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    elif op == "/":
        if b == 0:
            return None
        r = a / b
    else:  # %: the sign of the dividend, as in SQL
        if b == 0:
            return None
        if isinstance(a, int) and isinstance(b, int):
            r = abs(a) % abs(b)
            r = -r if a < 0 else r
        else:
            r = math.fmod(a, b)
    return checked(r)


def checked(r: Any) -> Any:
    if isinstance(r, int):
        return r if INT_MIN <= r <= INT_MAX else None
    return r if math.isfinite(r) else None


@lru_cache(maxsize=256)
def like_test(pattern: str) -> Any:
    """The ``fullmatch`` of a LIKE pattern (``%`` any run, ``_`` one character)."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL).fullmatch


# -- aggregates over collected values --------------------------------------------------------


def total(values: list) -> Any:
    """SUM: the numbers among ``values`` (others ignored), exact for integers, correctly rounded
    (``math.fsum``, so independent of row order) once a float is among them; NULL if none."""
    numbers = [v for v in values if _KIND[v.__class__] == NUMBER]
    if not numbers:
        return None
    if all(v.__class__ is int for v in numbers):
        return checked(sum(numbers))
    return checked(math.fsum(numbers))


def mean(values: list) -> Any:
    """AVG: a float, the SUM divided by the count of numbers; NULL if none."""
    numbers = [v for v in values if _KIND[v.__class__] == NUMBER]
    if not numbers:
        return None
    exact = sum(numbers) if all(v.__class__ is int for v in numbers) else math.fsum(numbers)
    return checked(exact / len(numbers))


def extreme(values: list, largest: bool) -> Any:
    """MIN / MAX over booleans, numbers and strings in ``find``'s order (NULL, arrays and
    objects ignored); between equal numbers (``1``, ``1.0``) the integer wins."""
    scalars = [v for v in values if BOOL <= _KIND[v.__class__] <= STRING]
    if not scalars:
        return None
    if largest:
        return max(scalars, key=lambda v: (_KIND[v.__class__], v, v.__class__ is not float))
    return min(scalars, key=lambda v: (_KIND[v.__class__], v, v.__class__ is float))


def distinct_count(values: list) -> int:
    return len({canon(v) for v in values})
