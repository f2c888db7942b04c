"""``find(order_by=f, limit=k)`` over a field with an index, served by the index's order.

The general translation (``surql.select``) sorts by an expression carrying the library's total
order across kinds, which the engine cannot read from an index: a top 10 of 100,000 records
sorts them all. A plain ``ORDER BY f LIMIT n`` walks an index on ``f`` and stops after ``n``
entries, but in the engine's order, which differs from the library's (measured on 2.3.10):
the index holds NONE, then NULL, bools, integers, *then* floats, strings, and an array under
each of its elements; without an index the engine sorts NONE before NULL and ties in no
particular order. So the walk gives candidates, and the answer is proved complete by at most
three small queries (all index-served):

* the walk's first ``need = offset + limit`` entries, in any order: ``S``, its records with a
  scalar value, must hold ``need`` of them (else a walk ``WIDER`` times as long, then the
  general path). Let ``v`` be the value of
  the ``need``-th of ``S`` in the library's order. Every scalar record ranked before it is in
  the walk (its key precedes ``v``'s) -- except floats when ``v`` is a number (they follow
  every integer) and NULLs when ``v`` is one (NONE and NULL tie in the library's order, not
  in the index's): then the general path;
* the floats up to ``v`` (the first ``need`` of a float range) when ``v`` is a number;
* every record equal to the final ``need``-th value (``f = $v``: integers and floats alike),
  so ties are decided by id here, not by the walk.

The rows then go through the reference ``Query.apply`` (order, offset, limit). Arrays and
objects rank after every scalar, so they never belong to the answer once ``S`` is long
enough. Used only when the backend knows of an index on ``f`` alone (without one the walk
would be a full sort: no faster than the general path, but as correct), and only on the
embedded engines: the index order above is the installed wheel's, which the tests check
against the general path; a remote server may run another version, so ``ws://`` stores
always take the general path.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

from ...query import Query
from . import surql
from .commit import plain

#: the longest ``offset + limit`` served this way (each candidate is read in full)
MAX_NEED = 1000
#: how much longer the second walk is when arrays or objects took too many entries
WIDER = 4
_LOWEST = -sys.float_info.max  # every JSON number is finite: the float range's lower bound


def field_of(query: Query) -> str | None:
    """The field ``query`` orders by, when the index can serve it (else None)."""
    if query.where is not None or query.limit is None or len(query.order) != 1:
        return None
    (path, descending), need = query.order[0], query.offset + query.limit
    if descending or len(path) != 1 or path[0] == "id" or not 0 < need <= MAX_NEED:
        return None
    return path[0]


def find(backend: Any, table: str, query: Query, name: str) -> list[dict] | None:
    """The answer of ``query`` (see :func:`field_of`), or None: take the general path."""
    f = surql.plain_field((name,))
    need = query.offset + (query.limit or 0)
    top = dataclasses.replace(query, offset=0, limit=need)
    base = "SELECT * FROM type::table($tb)"
    vars: dict = {"tb": table, "n": need}
    for walk in (need, need * WIDER):  # arrays take an entry per element: once wider
        rows = backend._one(f"{base} ORDER BY {f} LIMIT $w", {**vars, "w": walk}, "find")
        if len(rows or ()) < walk:  # the index holds fewer: records it lacks may rank first
            return None
        found = _by_id(rows)
        ranked = _ranked(top, found, name)
        if len(ranked) == need:
            break
    else:
        return None
    v = ranked[-1].get(name)
    if v is None:
        return None
    queries = [f"{base} WHERE {f} = $v;"]
    vars["v"] = v
    if _is_number(v):
        queries.append(f"{base} WHERE {f} >= $lo AND {f} <= $hi ORDER BY {f} LIMIT $n;")
        vars["lo"], vars["hi"] = _LOWEST, math.nextafter(float(v), math.inf)
    for part in backend._one_many(" ".join(queries), vars, "find"):
        found.update(_by_id(part or []))
    last = _ranked(top, found, name)[-1].get(name)
    if last != v:  # a float now ends the top: its ties too
        found.update(_by_id(backend._one(queries[0], {**vars, "v": last}, "find") or []))
    return query.apply(found.values())


def _by_id(rows: list) -> dict:
    return {doc["id"]: doc for doc in (plain(row) for row in rows)}


def _ranked(top: Query, found: dict, name: str) -> list[dict]:
    """The first ``top.limit`` of the scalar-valued records of ``found``, in order."""
    return top.apply(d for d in found.values() if d.get(name).__class__ not in (list, dict))


def _is_number(value: Any) -> bool:
    return value.__class__ in (int, float)
