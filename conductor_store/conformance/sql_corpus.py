"""The audit table of the SQL conformance tests and a corpus of more than 100 queries, each a
spec of :mod:`.sql_model` (rendered to SQL for the store, evaluated by the model)."""

from __future__ import annotations

import math
from typing import Any

#: fields exercise NULL (``agent`` of e05), missing fields (``agent`` of e06, ``cost_usd`` of
#: e08), a path through a non-object (``meta`` of e04), other kinds where numbers are expected
#: (``cost_usd`` of e07, e11, e12) and the numbers 1 and 1.0 as group keys (e11, e12).
AUDIT = {
    "e01": {"task_id": "T1", "agent": "claude", "status": "failed", "cost_usd": 0.25,
            "tokens": 100, "meta": {"model": "opus"}},
    "e02": {"task_id": "T1", "agent": "claude", "status": "ok", "cost_usd": 1.5, "tokens": 250,
            "meta": {"model": "sonnet"}},
    "e03": {"task_id": "T1", "agent": "codex", "status": "failed", "cost_usd": 0.1, "tokens": 40,
            "meta": {"model": "gpt"}},
    "e04": {"task_id": "T2", "agent": "codex", "status": "ok", "cost_usd": 2, "tokens": 300,
            "meta": "n/a"},
    "e05": {"task_id": "T2", "agent": None, "status": "ok", "cost_usd": None, "tokens": 10},
    "e06": {"task_id": "T2", "status": "failed", "cost_usd": 0.7, "tokens": None,
            "meta": {"model": "opus"}},
    "e07": {"task_id": "T3", "agent": "gemini", "status": "retry", "cost_usd": "n/a",
            "tokens": 5, "meta": {"model": None}},
    "e08": {"task_id": "T3", "agent": "gemini", "status": "ok", "tags": ["a", "b"], "tokens": 7},
    "e09": {"task_id": "T3", "agent": "Claude", "status": "failed", "cost_usd": 3, "tokens": 1,
            "meta": {"model": "opus"}},
    "e10": {"task_id": "T4", "agent": "claude", "status": "ok", "cost_usd": 0.3, "tokens": 2},
    "e11": {"task_id": "T4", "agent": 1, "status": True, "cost_usd": True, "tokens": 3},
    "e12": {"task_id": "T4", "agent": 1.0, "status": "ok", "cost_usd": [1, 2], "tokens": 4},
}  # fmt: skip


def f(path: str) -> tuple:
    return ("f", path)


def agg(name: str, arg: Any = None, distinct: bool = False) -> tuple:
    return ("agg", name, None if arg is None else f(arg) if isinstance(arg, str) else arg, distinct)


WHERES: list = [
    None,
    ("cmp", "=", "task_id", "T1"),
    ("and", ("cmp", "=", "task_id", "T1"), ("cmp", "=", "status", "failed")),
    ("cmp", ">", "cost_usd", 0.5),
    ("isnull", "cost_usd"),
    ("not", ("isnull", "agent")),
    ("in", "status", ["ok", "retry"]),
    ("like", "agent", "c%"),
    ("or", ("cmp", "<", "cost_usd", 1), ("cmp", "=", "status", "ok")),
    ("not", ("cmp", ">", "cost_usd", 1)),
    ("cmp", "!=", "meta.model", "opus"),
    ("cmp", "=", "task_id", "nothing"),
]

ROW_COLUMNS: list = [
    "*",
    [(None, f("id")), (None, f("agent"))],
    [(None, f("id")), ("model", f("meta.model")), (None, ("op", "*", f("cost_usd"), ("c", 2)))],
    [
        (None, f("id")),
        (None, ("fn", "COALESCE", f("agent"), ("c", "none"))),
        (None, ("fn", "LOWER", f("agent"))),
        ("n", ("fn", "LENGTH", f("agent"))),
        ("t", ("op", "+", f("tokens"), ("op", "/", f("cost_usd"), ("c", 4)))),
    ],
]

AGGREGATES: list = [
    (None, agg("COUNT")),
    ("n_cost", agg("COUNT", "cost_usd")),
    (None, agg("COUNT", "status", True)),
    ("total", agg("SUM", "cost_usd")),
    (None, agg("AVG", "cost_usd")),
    (None, agg("MIN", "cost_usd")),
    (None, agg("MAX", "status")),
    (None, agg("SUM", "tokens")),
]

GROUPS: list = [["agent"], ["status"], ["meta.model"], ["task_id", "agent"], "all", None]


def corpus() -> list[dict]:
    """At least 100 query specs covering every construct, NULLs and odd kinds included."""
    specs: list[dict] = []
    for i, where in enumerate(WHERES):
        for j, cols in enumerate(ROW_COLUMNS):
            spec: dict = {"cols": cols, "where": where}
            if (i + j) % 3 == 1:
                spec["order"] = [(f("cost_usd"), True)]
            elif (i + j) % 3 == 2:
                spec["order"] = [(f("agent"), False), (f("tokens"), True)]
                spec["limit"], spec["offset"] = 4, 1
            specs.append(spec)
        for k, group in enumerate(GROUPS):
            keys = [] if group in (None, "all") else group
            cols = [(None, f(p)) for p in keys] + AGGREGATES[k % 3 :: 2]
            spec = {"cols": cols, "where": where, "group": group}
            if k % 2 == 0 and cols:
                spec["order"] = [(cols[-1][0] or cols[-1][1], True)]
            if (i + k) % 4 == 0:
                spec["having"] = (">=", agg("COUNT"), 1)
            specs.append(spec)
        for k, group in enumerate([["agent"], ["meta.model"], "all", ["status", "agent"]]):
            keys = [] if group == "all" else group
            cols = [(None, f(p)) for p in keys] + [
                (None, agg("COUNT")),
                ("c", agg("COUNT", "cost_usd")),
            ]
            spec = {"cols": cols, "where": where, "group": group}  # the engine counts these
            if k == 3:
                spec["order"], spec["limit"] = [("c", True)], 3
            specs.append(spec)
    specs += [
        {"cols": [(None, f("status"))], "distinct": True},
        {"cols": [(None, f("agent"))], "distinct": True, "order": [(f("agent"), True)]},
        {"cols": [(None, f("agent")), (None, f("status"))], "distinct": True, "limit": 3},
        {"cols": [(None, f("agent")), ("total", agg("SUM", "cost_usd"))], "group": ["agent"],
         "having": (">", agg("SUM", "cost_usd"), 1), "order": [("total", True)]},
        {"cols": [(None, f("status")), ("c", agg("COUNT"))], "group": ["status"],
         "order": [("c", True), (f("status"), False)], "limit": 2},
        {"cols": [(None, f("agent")), ("x", ("op", "/", agg("SUM", "tokens"), agg("COUNT")))],
         "group": ["agent"], "order": [("x", False)]},
        {"cols": [("m", agg("MAX", "tokens")), ("s", agg("MIN", "agent"))], "where": WHERES[4]},
        {"cols": [(None, f("id"))], "order": [(f("meta.model"), False), (f("id"), True)],
         "offset": 2},
    ]  # fmt: skip
    return specs


def identical(a: Any, b: Any) -> bool:
    """Equal values of equal types (an int is not a float here), containers by content."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b
