"""A :class:`~conductor_store.sql.plan.Plan` bound to a call's params: :class:`Bound`.

Binding puts each ``:name``'s value in place (checked as a JSON scalar; a list only after
``IN``), compiles the WHERE with the query layer (:mod:`conductor_store.query`, the same
semantics as ``find``), numbers the distinct aggregates and lists the fields the query reads.
A bound query is what a backend's ``select`` receives.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from .. import query as q
from .. import where_sql as w
from ..errors import QueryError
from . import nodes as n
from .parse import at
from .plan import Plan, plan


@dataclass
class Bound:
    plan: Plan
    query: q.Query  # the WHERE, as find would run it (no order, no slice)
    columns: tuple  # ((name, Expr), ...): params bound, aggregates as AggRef
    aggregates: tuple  # (Agg, ...): params bound
    having: Any
    order: tuple  # ((Expr, descending, nulls_first), ...)
    limit: int | None
    offset: int
    #: the top-level fields the query reads outside WHERE (None: whole records, SELECT *)
    fields: frozenset | None
    compiled: Any = field(default=None, repr=False)  # the evaluator's closures, made once

    @property
    def table(self) -> str:
        return self.plan.table


_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = Lock()
_CACHE_SIZE = 256


def bind(text: str, params: dict | None = None) -> Bound:
    """Plan ``text`` (cached by text) and bind it to ``params`` (cached by text and params
    while the params are plain scalars and lists)."""
    if params is not None and not isinstance(params, dict):
        raise QueryError(f"params must be a dict, not {type(params).__name__}")
    params = params or {}
    try:
        key: Any = (text, tuple(sorted((k, _frozen(v)) for k, v in params.items())))
        hash(key)
    except TypeError:
        key = None
    if key is not None:
        with _CACHE_LOCK:
            found = _CACHE.get(key)
            if found is not None:
                _CACHE.move_to_end(key)
                return found
    bound = _bind(plan(text), params)
    if key is not None:
        with _CACHE_LOCK:
            _CACHE[key] = bound
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return bound


def _frozen(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_frozen(v) for v in value))
    if isinstance(value, (dict, set)):
        raise TypeError("not cacheable")
    return (type(value), value)


def _bind(p: Plan, params: dict) -> Bound:
    where = None
    if p.where is not None:
        try:
            node = w._build(p.where, params, True)
        except RecursionError:
            raise QueryError("WHERE is nested too deeply") from None
        except QueryError as error:
            raise QueryError(f"{error} (in the WHERE {at(p.where, p.text)})") from None
        where = (None if node else q._NOTHING) if isinstance(node, bool) else node
    query = q.Query(where, (), None, 0)

    def put(e: n.Expr) -> n.Expr:
        return n.transform(e, lambda x: _param(x, params))

    aggregates: list = []

    def number(e: n.Expr) -> n.Expr:
        def ref(x: n.Expr) -> n.Expr | None:
            if not isinstance(x, n.Agg):
                return None
            if x not in aggregates:
                aggregates.append(x)
            return n.AggRef(aggregates.index(x))

        return n.transform(put(e), ref)

    columns = tuple((name, number(e)) for name, e in p.columns)
    having = number(p.having) if p.having is not None else None
    order = tuple((number(e), desc, nulls) for e, desc, nulls in p.order)
    limit = _count(p.limit, params, "LIMIT")
    offset = _count(p.offset, params, "OFFSET") or 0
    return Bound(
        plan=p,
        query=query,
        columns=columns,
        aggregates=tuple(aggregates),
        having=having,
        order=order,
        limit=limit,
        offset=offset,
        fields=_fields(p, aggregates, columns, having, order),
    )


def _param(e: n.Expr, params: dict) -> n.Expr | None:
    if isinstance(e, n.InList) and isinstance(e.values, n.Param):
        values = _value(e.values.name, params)
        if not isinstance(values, (list, tuple)):
            raise QueryError(
                f"parameter :{e.values.name} must be a list for IN, not {type(values).__name__}"
            )
        items = q._items(values, f"parameter :{e.values.name}")
        item = n.transform(e.item, lambda x: _param(x, params))
        return n.InList(item, tuple(n.Const(v) for v in items))
    if isinstance(e, n.Param):
        return n.Const(q._scalar(_value(e.name, params), f"parameter :{e.name}"))
    return None


def _value(name: str, params: dict) -> Any:
    try:
        return params[name]
    except KeyError:
        raise QueryError(f"missing parameter :{name}") from None


def _count(e: Any, params: dict, what: str) -> int | None:
    if e is None:
        return None
    value = _value(e.name, params) if isinstance(e, n.Param) else e.value
    if not q._is_count(value):
        raise QueryError(f"{what} must be an integer >= 0, not {value!r}")
    return value


def _fields(p: Plan, aggregates: list, *exprs: Any) -> frozenset | None:
    if p.star:
        return None
    found = {path[0] for path in p.keys}
    stack: list = [*aggregates]
    for item in exprs:
        if isinstance(item, tuple):
            stack.extend(x[1] if len(x) == 2 else x[0] for x in item)
        elif item is not None:
            stack.append(item)
    for e in stack:
        found.update(x.path[0] for x in n.walk(e) if isinstance(x, n.Field))
    if not p.grouped:
        found.add("id")  # rows come in id order
    return frozenset(found)
