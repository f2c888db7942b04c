"""Translate the portable query tree (:mod:`conductor_store.query`) into SurrealQL.

Every value is bound as a ``$pN`` parameter; field path segments (``[A-Za-z_][A-Za-z0-9_]*``
by the query layer's rules) are emitted backtick-quoted, tables only as bound ``$tb``.

SurrealQL is two-valued and differs from the library's SQL semantics in ways measured on the
embedded engine (2.3.10): ``NONE = NULL`` is false, ``NULL < 1`` is true, ``'a' < 1`` is false,
``[{b: 1}].b`` maps over arrays, and ORDER BY sorts NONE before NULL and arrays/objects by
content. So each node is translated twice -- "is TRUE" and "is FALSE" -- which pushes ``NOT``
down to the leaves (De Morgan) and gives SQL's three-valued logic: a leaf on a NULL field is
neither. Every leaf is guarded by a kind check (``type::is::number(f)`` ...), paths through a
non-object read as NULL, and the sort key maps NONE to NULL and every array (object) to ``[]``
(``{}``) so that they tie and fall back to the id.

Parentheses are emitted only where SurrealQL's precedence needs them (``!`` binds tighter
than ``AND``, ``AND`` tighter than ``OR``): the engine evaluates each parenthesised group as
a nested expression, which cost ~1 us per record and group (a 2,000-record scan: 13.2 ms
flat, 15.6 ms with the WHERE in one pair of parentheses, measured on 2.3.10). An ``OR`` is
always parenthesised, so any result can stand as one operand of an ``AND``.
"""

from __future__ import annotations

from typing import Any

from ...query import And, Compare, In, IsNull, Like, Not, Or, Query

#: the engine takes LIMIT/START up to 2**32 - 1 and an ordered query's LIMIT + START must stay
#: below 2**32 (it wraps: measured on 2.3.10), so both are clamped to 2**31 - 1 ("all": no
#: table here holds two billion records)
COUNT_MAX = 2**31 - 1
#: a ``where`` with more comparisons than this (after ``f = a OR f = b ...`` became ``IN``) is
#: evaluated in Python over a scan: the engine's cost per comparison and record is high
#: (~25 us) and its evaluation is recursive
MAX_LEAVES = 64

_KIND_CHECK = {bool: "type::is::bool", int: "type::is::number", float: "type::is::number",
               str: "type::is::string"}  # fmt: skip
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}  # within one kind


class Params:
    """Collects bound values, handing out ``$pN`` names."""

    def __init__(self, vars: dict) -> None:
        self.vars = vars

    def bind(self, value: Any) -> str:
        name = f"p{len(self.vars)}"
        self.vars[name] = value
        return "$" + name


def field(path: tuple) -> str:
    """The SurrealQL expression reading ``path``; NONE/NULL when missing or crossing a
    non-object (arrays included: SurrealQL would map the rest of the path over them)."""
    if path[0] == "id":
        return "record::id(id)" if len(path) == 1 else "NULL"
    quoted = [f"`{seg}`" for seg in path]
    if len(quoted) == 1:
        return quoted[0]
    guards = " AND ".join(
        f"type::is::object({'.'.join(quoted[:i])})" for i in range(1, len(quoted))
    )
    return f"(IF {guards} THEN {'.'.join(quoted)} ELSE NULL END)"


def plain_field(path: tuple) -> str:
    """``path`` as a plain SurrealQL path (``a.b``): what an index is defined on. Through a
    non-object it reads NONE, through an array of objects an array -- never a scalar, so a
    kind check or an equality with a scalar rejects both, as the library's NULL would be."""
    if path[0] == "id":
        return "record::id(id)" if len(path) == 1 else "NULL"
    return ".".join(f"`{seg}`" for seg in path)


def _not_null(f: str) -> str:
    return f"{f} != NONE AND {f} != NULL"


def _kind(value: Any) -> str:
    return (
        _KIND_CHECK[value.__class__]
        if value.__class__ in _KIND_CHECK
        else _KIND_CHECK[
            bool if isinstance(value, bool) else int if isinstance(value, (int, float)) else str
        ]
    )


def _like_regex(pattern: str) -> str:
    out = []
    for c in pattern:
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        elif c.isalnum() or ord(c) > 127:
            out.append(c)
        else:
            out.append("\\x{%x}" % ord(c))
    return "(?s)\\A" + "".join(out) + "\\z"


def _truth(node: Any, p: Params, want: bool) -> str:
    """SurrealQL that is true exactly when ``node`` is ``want`` (TRUE or FALSE) under SQL's
    three-valued logic; it is false when ``node`` is the other value or unknown."""
    if isinstance(node, Not):
        return _truth(node.item, p, not want)
    if isinstance(node, (And, Or)):
        items = _merge_equalities(node.items, isinstance(node, And))
        parts = [_truth(item, p, want) for item in items]
        if not parts:  # empty AND is true, empty OR is false
            empty_true = isinstance(node, And)
            return "true" if empty_true == want else "false"
        return _balanced(parts, " AND " if isinstance(node, And) == want else " OR ")
    if isinstance(node, IsNull):
        f = field(node.field)
        return f"({f} = NONE OR {f} = NULL)" if want else _not_null(f)
    f, g = field(node.field), plain_field(node.field)
    if isinstance(node, Compare):
        v = p.bind(node.value)
        if node.op in ("=", "!="):
            if want == (node.op == "="):
                # SurrealQL's = never holds across kinds (true = 1, 1 = '1', [1] = 1 are false;
                # 1 = 1.0 holds) nor for NONE/NULL = a value: the plain form is exact, and an
                # index on the field serves it
                return f"{g} = {v}"
            return f"{_not_null(f)} AND !({_kind(node.value)}({f}) AND {f} = {v})"
        # within one kind NOT (g < v) is g >= v. The kind check, not bounds by SurrealQL's
        # order across kinds (``g > true AND g < ''`` for numbers: 35 % faster un-indexed, but
        # the engine then counts wrongly through an index: 60 instead of 19 for n > 40, and
        # ``g <= math::inf`` misses every integer: measured on 2.3.10)
        op = node.op if want else _NEGATED[node.op]
        return f"{_kind(node.value)}({g}) AND {g} {op} {v}"
    if isinstance(node, In):
        if want:  # membership with the same = (an array on the left is never a member)
            return f"{g} IN {p.bind(list(node.values))}" if node.values else "false"
        groups: dict[str, list] = {}
        for item in node.values:
            groups.setdefault(_kind(item), []).append(item)
        hits = [f"{check}({f}) AND {f} IN {p.bind(items)}" for check, items in groups.items()]
        hit = "(" + " OR ".join(hits) + ")" if hits else "false"
        return f"{_not_null(f)} AND !{hit}"
    if isinstance(node, Like):
        rx = p.bind(_like_regex(node.pattern))
        return f"type::is::string({g}) AND {'' if want else '!'}string::matches({g}, {rx})"
    raise TypeError(f"not a query node: {node!r}")


def _merge_equalities(items: tuple, negated: bool = False) -> tuple:
    """``f = a OR f = b OR f IN (c)`` -> ``f IN (a, b, c)`` (for an AND: ``f != a AND f != b``
    -> ``NOT f IN (a, b)``): the same under three-valued logic (NULL: unknown either way;
    another kind: false either way), one node instead of a chain the engine evaluates
    recursively ("excessive computation depth" at ~1,000 ORs)."""
    groups: dict = {}
    leaf: Any
    for item in items:
        leaf = item.item if negated and isinstance(item, Not) else item
        if (
            (not negated and isinstance(leaf, Compare) and leaf.op == "=")
            or (isinstance(leaf, In) and (negated is (leaf is not item)))
            or (negated and isinstance(leaf, Compare) and leaf.op == "!=")
        ):
            groups.setdefault(leaf.field, []).append(item)
    merged = {f: g for f, g in groups.items() if len(g) > 1}
    if not merged:
        return items
    members = {id(item) for group in merged.values() for item in group}
    out: list = []
    for item in items:
        if id(item) not in members:
            out.append(item)
            continue
        leaf = item.item if isinstance(item, Not) else item
        group = merged[leaf.field]
        if item is group[0]:
            values: list = []
            for g in group:
                one: Any = g.item if isinstance(g, Not) else g
                values.extend(one.values if isinstance(one, In) else (one.value,))
            node = In(leaf.field, tuple(values))
            out.append(Not(node) if negated else node)
    return tuple(out)


def leaves(node: Any) -> int:
    """How many comparisons the translation of ``node`` holds (after merging equalities)."""
    if node is None:
        return 0
    if isinstance(node, Not):
        return leaves(node.item)
    if isinstance(node, (And, Or)):
        return sum(leaves(item) for item in _merge_equalities(node.items, isinstance(node, And)))
    return 1


def _balanced(parts: list, joiner: str) -> str:
    """``parts`` joined as a balanced tree of parentheses: depth O(log n), not O(n); an OR
    always in parentheses (see the module docstring), an AND of up to 8 parts bare."""
    if len(parts) <= 8:
        joined = joiner.join(parts)
        return f"({joined})" if joiner == " OR " else joined
    mid = len(parts) // 2
    return f"({_balanced(parts[:mid], joiner)}{joiner}{_balanced(parts[mid:], joiner)})"


def where_clause(query: Query, p: Params) -> str:
    if query.where is None:
        return ""
    return " WHERE " + _truth(query.where, p, True)


def sort_key(path: tuple) -> str:
    """An expression whose SurrealDB order is the library's total order for ``path``:
    NULL/missing < booleans < numbers < strings < arrays (all equal) < objects (all equal)."""
    f = field(path)
    if path == ("id",):
        return f
    return (
        f"(IF type::is::array({f}) THEN [] ELSE IF type::is::object({f}) THEN {{}} "
        f"ELSE ({f} ?? NULL) END)"
    )


def select(query: Query, p: Params, *, sliced: bool = True) -> str:
    """``SELECT`` over table ``$tb``: rows are records, or ``{d: record, ...sort keys}`` when
    the query orders by fields (see :func:`rows`)."""
    where = where_clause(query, p)
    tail = ""
    if sliced and query.limit is not None:
        tail += f" LIMIT {p.bind(min(query.limit, COUNT_MAX))}"
    if sliced and query.offset:
        tail += f" START {p.bind(min(query.offset, COUNT_MAX))}"
    if not query.order:
        return f"SELECT * FROM type::table($tb){where} ORDER BY id{tail}"
    keys = ", ".join(f"{sort_key(path)} AS o{i}" for i, (path, _) in enumerate(query.order))
    order = ", ".join(
        f"o{i} {'DESC' if desc else 'ASC'}" for i, (_, desc) in enumerate(query.order)
    )
    return (
        f"SELECT $this AS d, id, {keys} FROM type::table($tb){where} ORDER BY {order}, id ASC{tail}"
    )


def count(query: Query, p: Params) -> str:
    return f"SELECT count() FROM type::table($tb){where_clause(query, p)} GROUP ALL"
