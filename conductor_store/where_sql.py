"""SQL text -> the query layer's node tree (:mod:`conductor_store.query`).

A ``where`` given as text is parsed with sqlglot as one condition (not a statement), with
``:name`` parameters bound from ``params``; every construct the portable layer does not support
is refused with a :class:`~conductor_store.QueryError` naming it. sqlglot (~85 ms to import)
loads with the first SQL ``where``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .errors import QueryError
from .query import (
    _NOTHING,
    And,
    Compare,
    In,
    IsNull,
    Like,
    Node,
    Not,
    Or,
    Path,
    _check_path,
    _items,
    _problem,
    junction,
)

if TYPE_CHECKING:
    import sqlglot.expressions as exp
else:
    exp = None  # sqlglot.expressions, imported by the first SQL where

_STATEMENT = re.compile(
    r"\s*(select|with|insert|update|upsert|delete|create|drop|alter|replace|merge|truncate)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=512)
def _parse(text: str) -> "exp.Expression":
    """SQL text -> sqlglot tree, cached by text (params are bound later; trees are not mutated)."""
    global exp
    import sqlglot.expressions as exp
    from sqlglot.errors import SqlglotError

    try:
        # condition() parses one expression rather than a statement, so fields may be named
        # like statement keywords (comment, set, desc, use).
        return exp.condition(text)  # type: ignore[return-value]  # Expr is an Expression
    except SqlglotError as error:
        statement = _STATEMENT.match(text)
        if statement:
            raise QueryError(
                f"{statement[1].upper()} statements are not supported: pass only the condition"
            ) from None
        details = getattr(error, "errors", None)
        if details:  # sqlglot's own message, without its terminal colour codes
            d = details[0]
            message = f"{d['description']} at line {d['line']}, column {d['col']}"
            message += f": {d['highlight']!r}"
        else:
            message = str(error)
        raise QueryError(f"syntax error in where: {message}") from None


def sql_where(text: str, params: dict) -> Node | None:
    """The node tree of a SQL ``where`` (None: every record matches)."""
    try:
        node = _build(_parse(text), params, True)
    except RecursionError:  # sqlglot's parser gives up at about 40 nested parentheses
        raise QueryError("where is nested too deeply") from None
    if isinstance(node, bool):  # only False can come out at the top (see _build)
        return None if node else _NOTHING
    return node


_COMPARISONS = {"eq": "=", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_FIELDS = ("column", "dot")
_LITERALS = ("literal", "boolean", "null", "placeholder")


def _is_value(e: "exp.Expression") -> bool:
    """A literal, a parameter, or a negated number literal (-5 is Neg(Literal(5)))."""
    e = _unparen(e)
    return e.key in _LITERALS or (e.key == "neg" and _is_value(e.this))


def _build(e: "exp.Expression", params: dict, positive: bool) -> Node | bool:
    """A sqlglot condition as a node, or as a constant when it has the same value for every
    record. ``positive`` is False under an odd number of NOTs.

    A leaf that is unknown for every record (``x = NULL``) becomes False where ``positive``,
    True elsewhere, and the constant is folded into its parents. This is exact: AND and OR are
    monotone, so lowering such a leaf towards "not matching" can only turn a true result into a
    false one, and a result that was true with an unknown input is true whatever that input is.
    """
    key = e.key
    if key == "paren":
        return _build(e.this, params, positive)
    if key in ("and", "or"):
        return _junction(key, [_build(item, params, positive) for item in _flatten(e, key)])
    if key == "not":
        return _negate(_build(e.this, params, not positive))
    if e.args.get("negate"):  # sqlglot writes `a NOT LIKE b` as Like(negate=True)
        return _negate(_leaf(e, params, not positive))
    return _leaf(e, params, positive)


def _flatten(e: "exp.Expression", key: str) -> list:
    """The operands of a chain of ANDs (or ORs), in order, without recursion."""
    items, stack = [], [e]
    while stack:
        item = stack.pop()
        while item.key == "paren":
            item = item.this
        if item.key == key:
            stack += [item.expression, item.this]
        else:
            items.append(item)
    return items


def _junction(key: str, items: list) -> Node | bool:
    absorbing = key == "or"  # true OR x is true; false AND x is false
    if any(item is absorbing for item in items):
        return absorbing
    items = [item for item in items if not isinstance(item, bool)]
    if not items:
        return not absorbing
    return junction(Or if key == "or" else And, items)


def _negate(node: Node | bool) -> Node | bool:
    if isinstance(node, bool):
        return not node
    return node.item if isinstance(node, Not) else Not(node)


def _leaf(e: "exp.Expression", params: dict, positive: bool) -> Node | bool:
    key = e.key
    if key in _COMPARISONS:
        return _comparison(e, params, positive)
    if key == "in":
        return _in(e, params)
    if key == "is":
        target = _unparen(e.expression)
        if target.key != "null":
            raise QueryError(
                f"IS {_sql(target)} is not supported: only IS NULL and IS NOT NULL "
                f"(write = {_sql(target)})"
            )
        return IsNull(_field_of(e.this, "IS NULL", e))
    if key == "like":
        path = _field_of(e.this, "LIKE", e)
        pattern = _value(e.expression, params, e)
        if pattern is None:
            return not positive  # LIKE NULL: unknown for every record
        if not isinstance(pattern, str):
            raise QueryError(f"LIKE needs a string pattern, not {pattern!r}")
        return Like(path, pattern)
    if key in _FIELDS:
        raise QueryError(
            f"a bare field ({_sql(e)}) is not a condition: compare it, e.g. {_sql(e)} = TRUE"
        )
    if _is_value(e):
        raise QueryError(f"a literal ({_sql(e)}) is not a condition")
    raise QueryError(_unsupported(e))


def _comparison(e: "exp.Expression", params: dict, positive: bool) -> Node | bool:
    op = _COMPARISONS[e.key]
    left, right = _unparen(e.this), _unparen(e.expression)
    if left.key in _FIELDS and right.key in _FIELDS:
        _path(left), _path(right)  # a malformed field says so first ($name, a.*)
        raise QueryError(f"comparing two fields ({_sql(e)}) is not supported")
    if right.key in _FIELDS:  # 5 < priority  ->  priority > 5
        left, right, op = right, left, _FLIPPED[op]
    if left.key not in _FIELDS:
        if _is_value(left) and _is_value(right):
            raise QueryError(f"comparing two values ({_sql(e)}) is not supported: name a field")
        raise QueryError(_unsupported(right if _is_value(left) else left))
    path = _path(left)
    value = _value(right, params, e)
    if value is None:
        return not positive  # x = NULL: unknown for every record
    return Compare(op, path, value)


def _in(e: "exp.Expression", params: dict) -> In:
    if e.args.get("query") is not None:
        raise QueryError(f"subqueries are not supported: {_sql(e)}")
    path = _field_of(e.this, "IN", e)
    source = e.args.get("field")
    if source is None:  # IN (a, b, ...)
        values = [_value(item, params, e) for item in e.expressions]
        if any(value is None for value in values):
            raise QueryError(f"NULL is not allowed in IN (use IS NULL): {_sql(e)}")
        return In(path, tuple(values))
    if source.key != "placeholder":
        raise QueryError(
            f"IN takes a list of values in parentheses or a :parameter, not {_sql(source)}"
        )
    values = _param(source, params)
    if not isinstance(values, (list, tuple)):
        raise QueryError(
            f"parameter :{source.name} must be a list for IN, not {type(values).__name__}"
        )
    return In(path, _items(values, f"parameter :{source.name}"))


def _unparen(e: "exp.Expression") -> "exp.Expression":
    while e.key == "paren":
        e = e.this
    return e


def _field_of(e: "exp.Expression", construct: str, whole: "exp.Expression") -> Path:
    e = _unparen(e)
    if e.key not in _FIELDS:
        raise QueryError(f"{construct} needs a field on its left: {_sql(whole)}")
    return _path(e)


def _path(e: "exp.Expression") -> Path:
    """The path of a field: a Column (up to four dotted parts) or a Dot chain over one."""
    whole, segments = e, []
    while e.key == "dot":
        segments.append(e.expression)
        e = e.this
    parts = (e.parts if isinstance(e, exp.Column) else [e]) + segments[::-1]
    if not all(isinstance(part, exp.Identifier) for part in parts):
        raise QueryError(f"{_sql(whole)} is not a field")
    names = [part.name for part in parts]
    return _check_path(names, ".".join(names))


def _value(e: "exp.Expression", params: dict, whole: "exp.Expression") -> Any:
    """A literal or a parameter of ``whole`` as a JSON scalar (None for NULL)."""
    e = _unparen(e)
    value = _raw_value(e, params)
    problem = _problem(value)
    if problem:  # the message is built only here: _sql() is slow
        what = f"parameter :{e.this}" if e.key == "placeholder" else f"value in {_sql(whole)}"
        raise QueryError(f"{what}: {problem}")
    return value


def _raw_value(e: "exp.Expression", params: dict) -> Any:
    e = _unparen(e)
    key = e.key
    if key == "literal":
        return e.this if e.is_string else _number(e.this)
    if key == "boolean":
        return bool(e.this)
    if key == "null":
        return None
    if key == "placeholder":
        return _param(e, params)
    if key == "neg" and _unparen(e.this).key in ("literal", "neg"):
        number = _raw_value(e.this, params)
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            return -number  # range-checked after negation: -9223372036854775808 fits
    if key in _FIELDS:
        raise QueryError(f"a field ({_sql(e)}) is not allowed here: expected a value")
    raise QueryError(_unsupported(e))


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise QueryError(f"invalid number {text!r}") from None


def _param(e: "exp.Expression", params: dict) -> Any:
    name = e.this  # None for ?
    if not isinstance(name, str):
        raise QueryError("positional placeholders (?) are not supported: use :name")
    try:
        return params[name]
    except KeyError:
        raise QueryError(f"missing parameter :{name}") from None


_ARITHMETIC = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
    "mod": "%",
    "intdiv": "DIV",
    "bitwiseand": "&",
    "bitwiseor": "|",
    "bitwisexor": "^",
    "bitwisenot": "~",
    "bitwiseleftshift": "<<",
    "bitwiserightshift": ">>",
    "neg": "unary -",
}
_NAMED = {
    "between": "BETWEEN is not supported (write a >= x AND a <= y)",
    "ilike": "ILIKE is not supported (LIKE is case-sensitive)",
    "escape": "LIKE ... ESCAPE is not supported",
    "similarto": "SIMILAR TO is not supported",
    "regexplike": "regular expressions (REGEXP/RLIKE) are not supported",
    "glob": "GLOB is not supported",
    "nullsafeeq": "IS NOT DISTINCT FROM / <=> is not supported",
    "nullsafeneq": "IS DISTINCT FROM is not supported",
    "dpipe": "string concatenation (||) is not supported",
    "case": "CASE expressions are not supported",
    "block": "multiple statements are not supported",
    "array": "array literals are not supported (IN takes a list of values)",
    "struct": "object literals are not supported",
    "parameter": "@name parameters are not supported (use :name)",
}


def _unsupported(e: "exp.Expression") -> str:
    """A message naming the construct ``e``."""
    key = e.key
    if key in _ARITHMETIC:
        return f"arithmetic ({_ARITHMETIC[key]}) is not supported: {_sql(e)}"
    if key in _NAMED:
        return f"{_NAMED[key]}: {_sql(e)}"
    if isinstance(e, (exp.Query, exp.Subquery, exp.Exists)):
        return f"subqueries are not supported: {_sql(e)}"
    if isinstance(e, exp.Func):
        name = e.name if isinstance(e, exp.Anonymous) else e.sql_name()
        return f"unsupported construct: function call {name.upper()}(...)"
    return f"unsupported construct: {type(e).__name__} ({_sql(e)})"


def _sql(e: "exp.Expression") -> str:
    text = e.sql()
    return text if len(text) <= 60 else text[:57] + "..."
