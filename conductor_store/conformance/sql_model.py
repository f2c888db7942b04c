"""A tiny model of ``store.query``, independent of :mod:`conductor_store.sql`, for the corpus
and fuzz tests: queries are small specs (tuples) rendered to SQL text *and* evaluated here,
directly from the spec, by the rules of ``docs/query.md`` written out a second time.

Spec of an expression: ``("f", "a.b")`` field, ``("c", value)``, ``("agg", NAME, arg|None,
distinct)`` (``arg`` None: ``COUNT(*)``), ``("op", "+", x, y)``, ``("fn", NAME, x, ...)``,
``("cmp", "<", x, y)``, ``("not", x)``, ``("and"|"or", x, y, ...)``.
Spec of a WHERE: ``("cmp", op, path, value)``, ``("isnull", path)``, ``("in", path, values)``,
``("like", path, pattern)``, ``("and"|"or", p, ...)``, ``("not", p)``.
A query: ``dict(cols=[(alias|None, expr)] | "*", where=, group=[paths] | "all", having=
(op, expr, value), order=[(expr|alias, desc)], distinct=, limit=, offset=)``.
"""

from __future__ import annotations

import json
import math
from typing import Any

# -- rendering -------------------------------------------------------------------------------


def lit(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def render(e: Any) -> str:
    tag = e[0]
    if tag == "f":
        return e[1]
    if tag == "c":
        return lit(e[1])
    if tag == "agg":
        if e[2] is None:
            return "COUNT(*)"
        return f"{e[1]}({'DISTINCT ' if e[3] else ''}{render(e[2])})"
    if tag in ("op", "cmp"):
        return f"{_wrap(e[2])} {e[1]} {_wrap(e[3])}"
    if tag == "not":
        return f"NOT {_wrap(e[1])}"
    if tag in ("and", "or"):
        return f" {tag.upper()} ".join(_wrap(x) for x in e[1:])
    return f"{e[1]}({', '.join(render(x) for x in e[2:])})"


def _wrap(e: Any) -> str:
    return f"({render(e)})" if e[0] in ("op", "cmp", "not", "and", "or") else render(e)


def render_where(p: Any) -> str:
    tag = p[0]
    if tag == "cmp":
        return f"{p[2]} {p[1]} {lit(p[3])}"
    if tag == "isnull":
        return f"{p[1]} IS NULL"
    if tag == "in":
        return f"{p[1]} IN ({', '.join(lit(v) for v in p[2])})"
    if tag == "like":
        return f"{p[1]} LIKE {lit(p[2])}"
    if tag == "not":
        return f"NOT ({render_where(p[1])})"
    return "(" + f" {tag.upper()} ".join(render_where(x) for x in p[1:]) + ")"


def to_sql(spec: dict, table: str) -> str:
    cols = spec["cols"]
    sql = "SELECT " + ("DISTINCT " if spec.get("distinct") else "")
    if cols == "*":
        sql += "*"
    else:
        sql += ", ".join(render(e) + (f" AS {a}" if a else "") for a, e in cols)
    sql += f" FROM {table}"
    if spec.get("where") is not None:
        sql += " WHERE " + render_where(spec["where"])
    group = spec.get("group")
    if group == "all":
        sql += " GROUP ALL"
    elif group:
        sql += " GROUP BY " + ", ".join(group)
    if spec.get("having"):
        op, e, value = spec["having"]
        sql += f" HAVING {render(e)} {op} {lit(value)}"
    if spec.get("order"):
        keys = [
            (k if isinstance(k, str) else render(k)) + (" DESC" if d else "")
            for k, d in spec["order"]
        ]
        sql += " ORDER BY " + ", ".join(keys)
    if spec.get("limit") is not None:
        sql += f" LIMIT {spec['limit']}"
    if spec.get("offset"):
        sql += f" OFFSET {spec['offset']}"
    return sql


def names(spec: dict) -> list | None:
    if spec["cols"] == "*":
        return None
    return [a or render(e) for a, e in spec["cols"]]


# -- values ----------------------------------------------------------------------------------


def kind(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, bool):
        return 1
    if isinstance(v, (int, float)):
        return 2
    if isinstance(v, str):
        return 3
    return 4 if isinstance(v, list) else 5


def get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def same(a: Any, b: Any) -> bool:
    """Equality of the language: by kind, numbers by value, containers by content."""
    if kind(a) != kind(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def cmp3(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if kind(a) != kind(b):
        return {"=": False, "!=": True}.get(op)
    if kind(a) >= 4:
        return same(a, b) if op == "=" else (not same(a, b)) if op == "!=" else None
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def pred(p: Any, doc: dict) -> Any:
    tag = p[0]
    if tag == "cmp":
        return cmp3(p[1], get(doc, p[2]), p[3])
    if tag == "isnull":
        return get(doc, p[1]) is None
    if tag == "in":
        x = get(doc, p[1])
        return None if x is None else any(cmp3("=", x, v) for v in p[2])
    if tag == "like":
        import re

        x = get(doc, p[1])
        rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in p[2])
        return None if not isinstance(x, str) else re.fullmatch(rx, x, re.S) is not None
    if tag == "not":
        t = pred(p[1], doc)
        return None if t is None else not t
    results = [pred(x, doc) for x in p[1:]]
    if tag == "and":
        return False if False in results else None if None in results else True
    return True if True in results else None if None in results else False


def number(v: Any) -> bool:
    return kind(v) == 2


def evaluate(e: Any, row: Any, group: Any = None) -> Any:
    tag = e[0]
    if tag == "f":
        return group[0][e[1]] if group is not None else get(row, e[1])
    if tag == "c":
        return e[1]
    if tag == "agg":
        return aggregate(e, group[1])
    if tag == "cmp":
        return cmp3(e[1], evaluate(e[2], row, group), evaluate(e[3], row, group))
    if tag in ("not", "and", "or"):
        truths = [evaluate(x, row, group) for x in e[1:]]
        truths = [t if t is True or t is False else None for t in truths]
        if tag == "not":
            return None if truths[0] is None else not truths[0]
        absorbing = tag == "or"
        return absorbing if absorbing in truths else None if None in truths else not absorbing
    if tag == "op":
        a, b = evaluate(e[2], row, group), evaluate(e[3], row, group)
        if not (number(a) and number(b)):
            return None
        if e[1] in "/%" and b == 0:
            return None
        r = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[e[1]]()
        return r if not isinstance(r, float) or math.isfinite(r) else None
    args = [evaluate(x, row, group) for x in e[2:]]
    if e[1] == "COALESCE":
        return next((x for x in args if x is not None), None)
    x = args[0]
    if not isinstance(x, str):
        return None
    return {"LOWER": x.lower, "UPPER": x.upper, "LENGTH": lambda: len(x)}[e[1]]()


def aggregate(e: Any, docs: list) -> Any:
    name, arg, distinct = e[1], e[2], e[3]
    if arg is None:
        return len(docs)
    vals = [x for x in (evaluate(arg, d) for d in docs) if x is not None]
    if name == "COUNT":
        if not distinct:
            return len(vals)
        unique: list = []
        for x in vals:
            if not any(same(x, y) for y in unique):
                unique.append(x)
        return len(unique)
    if name in ("SUM", "AVG"):
        nums = [x for x in vals if number(x)]
        if not nums:
            return None
        s = sum(nums) if all(type(x) is int for x in nums) else math.fsum(nums)
        return s if name == "SUM" else s / len(nums)
    scalars = [x for x in vals if 1 <= kind(x) <= 3]
    if not scalars:
        return None
    best = scalars[0]
    for x in scalars[1:]:
        k = (
            (kind(x), x) > (kind(best), best)
            if name == "MAX"
            else (kind(x), x) < (kind(best), best)
        )
        if k or ((kind(x), x) == (kind(best), best) and type(x) is int):
            best = x
    return best


def canonical(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    if isinstance(v, list):
        return [canonical(x) for x in v]
    if isinstance(v, dict):
        return {k: canonical(x) for k, x in v.items()}
    return v


def order_value(v: Any, fine: bool = False) -> tuple:
    k = kind(v)
    if k < 4:
        return (k, v) if k else (0, 0)
    return (k, json.dumps(canonical(v), sort_keys=True, ensure_ascii=False) if fine else 0)


# -- the query -------------------------------------------------------------------------------


def run(spec: dict, docs: list[dict]) -> list[dict]:
    """The rows ``spec`` gives over ``docs``, by the documented rules."""
    rows = [d for d in docs if spec.get("where") is None or pred(spec["where"], d) is True]
    cols, group = spec["cols"], spec.get("group")
    aliases = {} if cols == "*" else {a: e for a, e in cols if a}
    grouped = group is not None or any(_has_agg(e) for _, e in ([] if cols == "*" else cols))
    if grouped:
        items = _groups(rows, [] if group in (None, "all") else group)
        if spec.get("having"):
            op, e, value = spec["having"]
            items = [g for g in items if cmp3(op, evaluate(e, None, g), value) is True]
    else:
        items = sorted(rows, key=lambda d: d["id"])
    out = []
    for item in items:
        row_, grp = (None, item) if grouped else (item, None)
        values = (
            dict(item) if cols == "*" else {a or render(e): evaluate(e, row_, grp) for a, e in cols}
        )
        keys = []
        for key, _ in spec.get("order") or []:
            e = aliases.get(key) if isinstance(key, str) else key
            keys.append(evaluate(e, row_, grp))
        out.append((values, keys))
    if spec.get("distinct"):
        unique: list = []
        for row in out:
            if not any(same(row[0], u[0]) for u in unique):
                unique.append(row)
        out = unique
    order = spec.get("order") or []
    for i in range(len(order) - 1, -1, -1):
        desc = order[i][1]
        out.sort(key=lambda r, i=i: order_value(r[1][i]), reverse=desc)  # type: ignore[misc]
    start = spec.get("offset") or 0
    end = None if spec.get("limit") is None else start + spec["limit"]
    return [values for values, _ in out[start:end]]


def _has_agg(e: Any) -> bool:
    if e[0] == "agg":
        return True
    items = e[1:] if e[0] in ("not", "and", "or") else e[2:] if e[0] in ("op", "fn", "cmp") else ()
    return any(_has_agg(x) for x in items)


def _groups(rows: list, paths: list) -> list:
    found: list = []  # [(key values, docs)]
    for doc in rows:
        key = [get(doc, p) for p in paths]
        for g in found:
            if all((a is None and b is None) or same(a, b) for a, b in zip(g[0], key)):
                g[1].append(doc)
                break
        else:
            found.append((key, [doc]))
    if not paths and not found:
        found.append(([], []))
    out = [({p: canonical(v) for p, v in zip(paths, key)}, docs) for key, docs in found]
    out.sort(key=lambda g: tuple(order_value(g[0][p], True) for p in paths))
    return out
