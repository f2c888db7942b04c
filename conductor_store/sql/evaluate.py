"""The Python evaluator of a bound query: the reference semantics, used by every backend that
does not push a query down, and for the parts a backend leaves to Python.

A query is compiled once into closures (kept on the :class:`~conductor_store.sql.bind.Bound`,
which is cached by text and params); running it streams over the rows once. The stages:

1. rows: filter by WHERE (unless the backend already did), then either
2a. not grouped: sort by id, compute each row's columns and order keys; or
2b. grouped: one pass collecting each group's aggregate inputs (:func:`groups`), then reduce;
3. :func:`finish`: HAVING, columns, DISTINCT, ORDER BY (stable, over the default order: id for
   rows, group keys for groups), OFFSET and LIMIT.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Iterable

from .. import query as q
from ..validation import copy_json
from . import nodes as n
from . import values as v
from .bind import Bound

Fn = Callable[[Any], Any]


@dataclass
class Compiled:
    columns: list  # [Fn]: in row mode over a record, in group mode over (keys, aggregates)
    order: list  # [(Fn, descending, nulls_first)]
    having: Fn | None
    keys: list  # [getter] of the GROUP BY paths
    args: list  # [Fn | None] per aggregate: its argument over a record (None: COUNT(*))


def compiled(bound: Bound) -> Compiled:
    if bound.compiled is None:
        mode = "group" if bound.plan.grouped else "row"
        keys = bound.plan.keys
        bound.compiled = Compiled(
            columns=[expression(e, mode, keys) for _, e in bound.columns],
            order=[(expression(e, mode, keys), d, nf) for e, d, nf in bound.order],
            having=expression(bound.having, mode, keys) if bound.having is not None else None,
            keys=[q._getter(path) for path in keys],
            args=[
                None if a.arg is None else expression(a.arg, "row", ()) for a in bound.aggregates
            ],
        )
    return bound.compiled


def run(
    bound: Bound, rows: Iterable[dict], *, filtered: bool = False, sliced: bool = False
) -> list[dict]:
    """The answer of ``bound`` over ``rows`` (records of its table, in any order; not mutated).
    ``filtered``: the rows already satisfy the WHERE; ``sliced``: and OFFSET/LIMIT are applied
    (only for a query without grouping, DISTINCT or ORDER BY)."""
    matches = None if filtered or bound.query.where is None else bound.query.matches
    if bound.plan.grouped:
        return finish(bound, reduce(bound, groups(bound, rows, matches)))
    docs = list(rows) if matches is None else list(filter(matches, rows))
    docs.sort(key=_by_id)
    return finish(bound, docs, star=bound.plan.star, sliced=sliced)


_by_id = itemgetter("id")


def groups(bound: Bound, rows: Iterable[dict], matches: Fn | None) -> dict:
    """One pass over ``rows``: canonical key -> [first key values, row count, inputs of each
    aggregate (non-NULL values of its argument)...]."""
    c = compiled(bound)
    getters, args = c.keys, list(enumerate(c.args, 2))
    counted = [(i, f) for i, f in args if f is not None]
    table: dict = {}
    canon = v.canon
    single = getters[0] if len(getters) == 1 else None
    for doc in rows:
        if matches is not None and not matches(doc):
            continue
        if single is not None:
            value = single(doc)
            key = value if value is None or value.__class__ is str else canon(value)
        else:
            values = tuple(g(doc) for g in getters)
            key = tuple(canon(x) for x in values)
        state = table.get(key)
        if state is None:
            first = (value,) if single is not None else values
            state = table[key] = [first, 0, *([] for _ in args)]
        state[1] += 1
        for i, f in counted:
            x = f(doc)
            if x is not None:
                state[i].append(x)
    if not getters and not table:  # aggregates over no rows: one group, as in SQL
        table[()] = [(), 0, *([] for _ in args)]
    return table


_REDUCERS: dict = {
    "SUM": v.total,
    "AVG": v.mean,
    "MIN": lambda xs: v.extreme(xs, False),
    "MAX": lambda xs: v.extreme(xs, True),
}


def reduce(bound: Bound, table: dict) -> list:
    """Groups as ``(key values, aggregate values)``, in the default order (by key values)."""
    out = []
    for state in table.values():
        keys = tuple(v.display(x) for x in state[0])
        results = []
        for i, agg in enumerate(bound.aggregates, 2):
            if agg.name == "COUNT":
                inputs = state[i]
                results.append(
                    state[1]
                    if agg.arg is None
                    else v.distinct_count(inputs)
                    if agg.distinct
                    else len(inputs)
                )
            else:
                results.append(_REDUCERS[agg.name](state[i]))
        out.append((keys, results))
    out.sort(key=lambda g: tuple(v.rank(x) for x in g[0]))
    return out


def finish(bound: Bound, items: list, *, star: bool = False, sliced: bool = False) -> list[dict]:
    """HAVING, columns, DISTINCT, ORDER BY, OFFSET, LIMIT over rows or groups already in the
    default order; returns fresh dicts."""
    c = compiled(bound)
    if c.having is not None:
        having = c.having
        items = [item for item in items if having(item) is True]
    columns, order = c.columns, c.order
    if star:
        rows = [(doc, tuple(f(doc) for f, _, _ in order)) for doc in items]
    else:
        rows = [
            (tuple(f(item) for f in columns), tuple(f(item) for f, _, _ in order)) for item in items
        ]
    if bound.plan.distinct:
        seen: set = set()
        unique = []
        for row in rows:
            key = v.canon(row[0])
            if key not in seen:
                seen.add(key)
                unique.append(row)
        rows = unique
    for i in range(len(order) - 1, -1, -1):  # stable sorts, least significant key first
        _, desc, nulls_first = order[i]
        rows.sort(key=_order_key(i, nulls_first != desc), reverse=desc)
    if not sliced:
        end = None if bound.limit is None else bound.offset + bound.limit
        rows = rows[bound.offset : end]
    if star:
        return [copy_json(doc) for doc, _ in rows]
    names = [name for name, _ in bound.columns]
    return [dict(zip(names, map(_copy, out))) for out, _ in rows]


def _order_key(i: int, nulls_low: bool) -> Fn:
    low = v.NULL if nulls_low else 99

    def key(row: tuple) -> tuple:
        value = row[1][i]
        return (low, 0) if value is None else v.sort_key(value)

    return key


def _copy(value: Any) -> Any:
    return copy_json(value) if isinstance(value, (dict, list)) else value


# -- expressions -> closures -----------------------------------------------------------------


def expression(e: n.Expr, mode: str, keys: tuple) -> Fn:
    """A closure computing ``e``: over a record in ``"row"`` mode, over ``(key values,
    aggregate values)`` in ``"group"`` mode."""
    if isinstance(e, n.Field):
        if mode == "group":
            return _item(0, keys.index(e.path))
        return q._getter(e.path)
    if isinstance(e, n.AggRef):
        return _item(1, e.index)
    if isinstance(e, n.Const):
        value = e.value
        return lambda row: value
    sub = [expression(x, mode, keys) for x in n.children(e)]
    if isinstance(e, n.Arith):
        left, right = sub
        op, arith = e.op, v.arith
        return lambda row: arith(op, left(row), right(row))
    if isinstance(e, n.Neg):
        (item,) = sub
        return lambda row: _negate(item(row))
    if isinstance(e, n.Cmp):
        left, right = sub
        op, compare = e.op, v.compare
        return lambda row: compare(op, left(row), right(row))
    if isinstance(e, (n.Logic, n.Not, n.IsNull, n.InList, n.Like)):
        return _predicate(e, sub)
    if isinstance(e, n.Func):
        return _function(e.name, sub)
    raise TypeError(f"cannot evaluate {e!r}")


def _item(i: int, j: int) -> Fn:
    return lambda row: row[i][j]


def _negate(x: Any) -> Any:
    return v.checked(-x) if v.is_number(x) else None


def _predicate(e: n.Expr, sub: list) -> Fn:
    truth = v.truth
    if isinstance(e, n.Logic):
        absorbing = e.op == "OR"  # true OR x is true; false AND x is false

        def junction(row: Any) -> Any:
            result: bool | None = not absorbing
            for f in sub:
                t = truth(f(row))
                if t is absorbing:
                    return absorbing
                if t is None:
                    result = None
            return result

        return junction
    if isinstance(e, n.Not):
        (item,) = sub

        def negation(row: Any) -> Any:
            t = truth(item(row))
            return None if t is None else not t

        return negation
    if isinstance(e, n.IsNull):
        (item,) = sub
        return lambda row: item(row) is None
    if isinstance(e, n.InList):
        item, options = sub[0], sub[1:]
        compare = v.compare

        def within(row: Any) -> Any:
            x = item(row)
            if x is None:
                return None
            return any(compare("=", x, f(row)) is True for f in options)

        return within
    item, pattern = sub

    def like(row: Any) -> Any:
        x, p = item(row), pattern(row)
        if not isinstance(x, str) or not isinstance(p, str):
            return None
        return v.like_test(p)(x) is not None

    return like


def _function(name: str, sub: list) -> Fn:
    if name == "COALESCE":

        def coalesce(row: Any) -> Any:
            for f in sub:
                x = f(row)
                if x is not None:
                    return x
            return None

        return coalesce
    (item,) = sub
    if name == "LENGTH":
        return lambda row: len(x) if isinstance(x := item(row), str) else None
    method = str.lower if name == "LOWER" else str.upper
    return lambda row: method(x) if isinstance(x := item(row), str) else None
