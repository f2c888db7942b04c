"""The expression tree of a planned query, and the canonical text that names its columns.

Every node is a frozen dataclass, so trees compare and hash by value (an aggregate written twice
is computed once). ``spelling`` fields only affect column names: ``SUM(x)`` and
``math::sum(x)`` are the same aggregate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union


@dataclass(frozen=True)
class Field:
    path: tuple  # a dotted path, already checked by the query layer's rules


@dataclass(frozen=True)
class Const:
    value: Any  # a JSON scalar


@dataclass(frozen=True)
class Param:
    name: str  # bound to a Const when the query is bound to its params


@dataclass(frozen=True)
class Arith:
    op: str  # + - * / %
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Neg:
    item: "Expr"


@dataclass(frozen=True)
class Func:
    name: str  # COALESCE LOWER UPPER LENGTH
    args: tuple
    spelling: str = dataclasses.field(default="", compare=False)


@dataclass(frozen=True)
class Agg:
    name: str  # COUNT SUM AVG MIN MAX
    arg: "Expr | None"  # None: COUNT(*)
    distinct: bool = False
    spelling: str = dataclasses.field(default="", compare=False)


@dataclass(frozen=True)
class AggRef:
    index: int  # the bound query's aggregates[index]


@dataclass(frozen=True)
class Cmp:
    op: str  # = != < <= > >=
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Logic:
    op: str  # AND OR
    items: tuple


@dataclass(frozen=True)
class Not:
    item: "Expr"


@dataclass(frozen=True)
class IsNull:
    item: "Expr"


@dataclass(frozen=True)
class InList:
    item: "Expr"
    values: "tuple | Param"  # of Expr (constants after binding), or one list parameter


@dataclass(frozen=True)
class Like:
    item: "Expr"
    pattern: "Expr"


Expr = Union[
    Field, Const, Param, Arith, Neg, Func, Agg, AggRef, Cmp, Logic, Not, IsNull, InList, Like
]


def children(e: Expr) -> Iterator[Expr]:
    """The direct sub-expressions of ``e``."""
    if isinstance(e, (Arith, Cmp)):
        yield e.left
        yield e.right
    elif isinstance(e, (Neg, Not, IsNull)):
        yield e.item
    elif isinstance(e, Func):
        yield from e.args
    elif isinstance(e, Agg):
        if e.arg is not None:
            yield e.arg
    elif isinstance(e, Logic):
        yield from e.items
    elif isinstance(e, InList):
        yield e.item
        if isinstance(e.values, tuple):
            yield from e.values
    elif isinstance(e, Like):
        yield e.item
        yield e.pattern


def walk(e: Expr) -> Iterator[Expr]:
    """``e`` and every expression below it, parents first."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(children(node))))


def transform(e: Expr, fn: Callable[[Expr], "Expr | None"]) -> Expr:
    """``e`` rebuilt bottom-up: ``fn(node)`` returns a replacement, or None to keep it."""
    replaced = fn(e)
    if replaced is not None:
        return replaced
    if isinstance(e, (Arith, Cmp)):
        return dataclasses.replace(e, left=transform(e.left, fn), right=transform(e.right, fn))
    if isinstance(e, (Neg, Not, IsNull)):
        return dataclasses.replace(e, item=transform(e.item, fn))
    if isinstance(e, Func):
        return dataclasses.replace(e, args=tuple(transform(a, fn) for a in e.args))
    if isinstance(e, Agg) and e.arg is not None:
        return dataclasses.replace(e, arg=transform(e.arg, fn))
    if isinstance(e, Logic):
        return dataclasses.replace(e, items=tuple(transform(i, fn) for i in e.items))
    if isinstance(e, InList):
        values = e.values
        if isinstance(values, tuple):
            values = tuple(transform(v, fn) for v in values)
        else:
            values = transform(values, fn)  # type: ignore[assignment]
        return dataclasses.replace(e, item=transform(e.item, fn), values=values)
    if isinstance(e, Like):
        return dataclasses.replace(e, item=transform(e.item, fn), pattern=transform(e.pattern, fn))
    return e


# -- column names ---------------------------------------------------------------------------

_COMPOUND = (Arith, Cmp, Logic, Not, IsNull, InList, Like)


def render(e: Expr) -> str:
    """The canonical text of ``e``: how an unaliased column is named."""
    if isinstance(e, Field):
        return ".".join(e.path)
    if isinstance(e, Const):
        return literal(e.value)
    if isinstance(e, Param):
        return ":" + e.name
    if isinstance(e, Arith):
        return f"{_operand(e.left)} {e.op} {_operand(e.right)}"
    if isinstance(e, Neg):
        return "-" + _operand(e.item)
    if isinstance(e, Func):
        return f"{e.spelling or e.name}({', '.join(render(a) for a in e.args)})"
    if isinstance(e, Agg):
        name = e.spelling or e.name
        if e.arg is None:
            return "count()" if name == "count" else f"{name}(*)"
        return f"{name}({'DISTINCT ' if e.distinct else ''}{render(e.arg)})"
    if isinstance(e, Cmp):
        return f"{_operand(e.left)} {e.op} {_operand(e.right)}"
    if isinstance(e, Logic):
        return f" {e.op} ".join(_operand(i) for i in e.items)
    if isinstance(e, Not):
        if isinstance(e.item, IsNull):
            return f"{_operand(e.item.item)} IS NOT NULL"
        return "NOT " + _operand(e.item)
    if isinstance(e, IsNull):
        return f"{_operand(e.item)} IS NULL"
    if isinstance(e, InList):
        if isinstance(e.values, Param):
            return f"{_operand(e.item)} IN :{e.values.name}"
        return f"{_operand(e.item)} IN ({', '.join(render(v) for v in e.values)})"
    if isinstance(e, Like):
        return f"{_operand(e.item)} LIKE {_operand(e.pattern)}"
    raise TypeError(f"not an expression: {e!r}")


def _operand(e: Expr) -> str:
    text = render(e)
    return f"({text})" if isinstance(e, _COMPOUND) else text


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)
