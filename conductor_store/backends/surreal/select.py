"""``store.query`` on SurrealDB: a bound query (:mod:`conductor_store.sql`) as SurrealQL.

The WHERE is translated by :mod:`.surql` (three-valued, kind-guarded, values bound as
``$pN``), so the engine filters; it returns only the top-level fields the query reads, and
only the page asked for when the rows come in the default (id) order.

Grouping goes to the engine where its answer is the library's: keys that are field paths
(NONE and NULL folded into one NULL group, ``1`` and ``1.0`` one group, as in Python) with
``COUNT(*)`` and ``COUNT(field)`` only. Other aggregates are reduced in Python from the
filtered rows: the engine's ``math::sum`` adds floats in scan order while the library's SUM is
correctly rounded (``math.fsum``), and ``math::min``/``math::max`` know only numbers. HAVING,
the select-list expressions, DISTINCT, ORDER BY and the slice are always finished in Python
(:func:`conductor_store.sql.evaluate.finish`), over few rows when the engine grouped.
"""

from __future__ import annotations

from typing import Any

from ...errors import QueryError, StoreError
from ...sql import evaluate, nodes
from ...sql.bind import Bound
from ...sql.values import display, rank
from . import surql
from .codec import Rid


def run(backend: Any, bound: Bound) -> list[dict]:
    if bound.plan.grouped and _engine_groups(bound):
        return _grouped(backend, bound)
    vars: dict = {"tb": bound.table}
    p = surql.Params(vars)
    where = surql.where_clause(bound.query, p)
    if bound.fields is None:
        projection = "*"
    else:
        projection = ", ".join(
            "record::id(id) AS id" if f == "id" else f"`{f}`" for f in sorted(bound.fields)
        )
        projection = projection or "record::id(id) AS id"
    tail, sliced = "", _engine_slices(bound)
    if sliced:  # in id order, the engine can page: only the page comes back
        tail = " ORDER BY id"
        if bound.limit is not None:
            tail += f" LIMIT {p.bind(bound.limit)}"
        if bound.offset:
            tail += f" START {p.bind(bound.offset)}"
    sql = f"SELECT {projection} FROM type::table($tb){where}{tail}"
    rows = backend._one(sql, vars, "query") or []
    if bound.fields is None:
        for row in rows:
            rid = row.get("id")
            if rid.__class__ is Rid:
                row["id"] = rid.key
    return evaluate.run(bound, rows, filtered=True, sliced=sliced)


def _engine_slices(bound: Bound) -> bool:
    """Whether OFFSET/LIMIT can go to the engine: rows in the default (id) order."""
    plan = bound.plan
    paged = bound.limit is not None or bound.offset > 0
    return paged and not (plan.grouped or plan.distinct or plan.order)


def _engine_groups(bound: Bound) -> bool:
    """Whether the engine's grouping gives the library's answer (see the module docstring)."""
    return all(
        agg.name == "COUNT"
        and not agg.distinct
        and (agg.arg is None or isinstance(agg.arg, nodes.Field))
        for agg in bound.aggregates
    )


def _grouped(backend: Any, bound: Bound) -> list[dict]:
    vars: dict = {"tb": bound.table}
    p = surql.Params(vars)
    where = surql.where_clause(bound.query, p)
    parts = [f"({surql.field(path)} ?? NULL) AS k{i}" for i, path in enumerate(bound.plan.keys)]
    for j, agg in enumerate(bound.aggregates):
        if agg.arg is None:
            parts.append(f"count() AS a{j}")
        else:
            f = surql.field(agg.arg.path)
            parts.append(f"count({f} != NONE AND {f} != NULL) AS a{j}")
    if not parts:  # SELECT 1 ... GROUP ALL: only the group's existence matters
        parts.append("count() AS n")
    keys = bound.plan.keys
    group = "GROUP BY " + ", ".join(f"k{i}" for i in range(len(keys))) if keys else "GROUP ALL"
    sql = f"SELECT {', '.join(parts)} FROM type::table($tb){where} {group}"
    rows = backend._one(sql, vars, "query") or []
    groups = [
        (
            tuple(display(row.get(f"k{i}")) for i in range(len(keys))),
            [int(row.get(f"a{j}") or 0) for j in range(len(bound.aggregates))],
        )
        for row in rows
    ]
    if not keys and not groups:  # aggregates over no rows: one group, as in SQL
        groups = [((), [0] * len(bound.aggregates))]
    groups.sort(key=lambda g: tuple(rank(x) for x in g[0]))
    return evaluate.finish(bound, groups)


def raw(backend: Any, text: str, vars: dict) -> list:
    """``store.surrealql``: every statement's result, record ids as ``table:id`` strings."""
    try:
        results = backend._t.run(text, vars, idempotent=False)
    except StoreError as error:
        if type(error) is not StoreError:  # unavailable, commit unknown...: as they are
            raise
        raise QueryError(f"SurrealQL failed: {error}") from None
    for stmt in results:
        if stmt.get("status") == "ERR":
            raise QueryError(f"SurrealQL failed: {stmt.get('result')}")
    return [_plain(stmt.get("result")) for stmt in results]


def _plain(value: Any) -> Any:
    if value.__class__ is Rid:
        return f"{value.table}:{value.key}"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
