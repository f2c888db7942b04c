"""The portable query layer: ``where`` / ``order_by`` / ``limit`` / ``offset`` -> :class:`Query`.

A ``where`` is a dict of equalities or a SQL boolean expression parsed with sqlglot, with named
parameters (``:name``) bound from ``params``. It becomes a small tree of the node classes below,
which every backend evaluates the same way: in Python (:meth:`Query.matches`, :meth:`Query.apply`)
or translated by a backend into its own language (SurrealQL, with values bound, never spliced).

Semantics (the conformance suite pins every line of this):

* A field is a dotted path into nested objects (``metadata.model``). A missing field, a path
  through a non-object, and JSON null all read as NULL.
* Comparisons use SQL's three-valued logic: a comparison involving NULL is unknown, ``NOT`` of
  unknown is unknown, and only rows whose predicate is true match.
* Values of different kinds (bool, number, string, array, object) are never equal: ``=`` is
  false, ``!=``/``<>`` is true, and ``< <= > >=`` are unknown. ``1 = 1.0`` is true; ``true = 1``
  is false. Strings compare by code point; booleans false < true.
* ``IN (a, b)`` / ``IN :list`` is true when the field equals any item; NULL items are refused.
  ``LIKE`` is case-sensitive with ``%`` and ``_`` wildcards and applies to strings only.
* ``order_by``: a field or list of fields, ``-field`` for descending. The total order is
  NULL/missing < booleans < numbers < strings < arrays < objects; ties are broken by ``id``
  ascending, and with no ``order_by`` records come in ``id`` order.

Details the lines above leave open:

* Every predicate but ``IS NULL`` is unknown on a NULL field: ``IN``, ``NOT IN`` (even with an
  empty list) and ``LIKE`` included.
* Field path segments match ``[A-Za-z_][A-Za-z0-9_]*``, so a backend may emit them as they are.
  Double quotes make one segment (``"order"`` for a field named like a keyword); they do not
  allow other characters.
* Values are JSON scalars: integers fit in 64 bits, floats are finite. Only ``IN :name`` takes a
  list (of non-NULL scalars).
* ``= NULL``, ``= :p`` with ``p`` None and ``LIKE NULL`` are unknown for every record; they are
  folded away when compiling, so a tree never holds a NULL value. A ``where`` that can never be
  true compiles to ``In(("id",), ())``.
* For ordering, all arrays rank equal among themselves, and so do all objects. A descending
  field reverses the whole order of that field, so NULLs come last.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from dataclasses import dataclass
from functools import lru_cache, partial
from operator import itemgetter, methodcaller
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union

from .errors import QueryError
from .validation import INT_MAX, INT_MIN

if TYPE_CHECKING:
    import sqlglot.expressions as exp
else:
    exp = None  # sqlglot.expressions, imported by the first SQL where (it takes ~85 ms)

Path = tuple  # tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    """``field <op> value`` with ``op`` one of ``= != < <= > >=`` and a non-NULL JSON scalar."""

    op: str
    field: Path
    value: Any


@dataclass(frozen=True)
class In:
    field: Path
    values: tuple


@dataclass(frozen=True)
class IsNull:
    field: Path


@dataclass(frozen=True)
class Like:
    field: Path
    pattern: str


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Union[Compare, In, IsNull, Like, And, Or, Not]

_NOTHING = In(("id",), ())  # a where that no record satisfies (every record has an id)


@dataclass(frozen=True)
class Query:
    where: Node | None  # None matches every record
    order: tuple  # ((path, descending), ...), without the implicit id tie-breaker
    limit: int | None
    offset: int
    #: ``matches(doc) -> bool``, compiled from ``where`` once, when the query is made.
    matches: Callable[[dict], bool] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matches", _matcher(self.where))

    def apply(self, docs: Iterable[dict]) -> list[dict]:
        """Filter, order and slice ``docs`` (returns the same dict objects, not copies)."""
        rows = list(docs) if self.where is None else list(filter(self.matches, docs))
        # Stable sorts from the least significant key to the most: id, then the order_by
        # fields from last to first, each reversed on its own when descending.
        rows.sort(key=_by_id)
        for path, descending in reversed(self.order):
            rows.sort(key=_sort_key(path), reverse=descending)
        end = None if self.limit is None else self.offset + self.limit
        return rows[self.offset : end]

    def unsliced(self) -> "Query":
        """This query without limit/offset (used when a transaction overlays its writes)."""
        if self.limit is None and self.offset == 0:
            return self
        return dataclasses.replace(self, limit=None, offset=0)


def compile_query(
    where: dict | str | None = None,
    params: dict | None = None,
    order_by: str | list[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Query:
    """Parse and validate; raises :class:`QueryError` naming any unsupported construct."""
    if params is not None and not isinstance(params, dict):
        raise QueryError(f"params must be a dict, not {type(params).__name__}")
    if where is None:
        node = None
    elif isinstance(where, dict):
        node = _dict_where(where)
    elif isinstance(where, str):
        node = _sql_where(where, params or {})
    else:
        raise QueryError(f"where must be a dict, a SQL string or None, not {type(where).__name__}")
    order = _order(order_by)
    if limit is not None and not _is_count(limit):
        raise QueryError(f"limit must be None or an integer >= 0, not {limit!r}")
    if not _is_count(offset):
        raise QueryError(f"offset must be an integer >= 0, not {offset!r}")
    if node is None and not order and limit is None and offset == 0:
        return _EVERYTHING
    return Query(node, order, limit, offset)


def lookup(doc: Any, path: Path) -> Any:
    """The value at ``path`` in ``doc``; None when missing or when the path crosses a non-object."""
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


# -- validation of fields, values and options ----------------------------------------------

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_path(segments: list, shown: str) -> Path:
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            hint = " ($name parameters are not supported: use :name)" if segment[:1] == "$" else ""
            raise QueryError(
                f"field {shown!r}: segment {segment!r} is not supported "
                f"(path segments match [A-Za-z_][A-Za-z0-9_]*){hint}"
            )
    return tuple(segments)


def _dotted(text: Any, what: str) -> Path:
    if not isinstance(text, str):
        raise QueryError(f"{what} must be a field name (str), not {text!r}")
    return _check_path(text.split("."), text)


def _scalar(value: Any, what: str) -> Any:
    """``value`` if it is a JSON scalar (None included), else QueryError."""
    problem = _problem(value)
    if problem:
        raise QueryError(f"{what}: {problem}")
    return value


def _problem(value: Any) -> str | None:
    """Why ``value`` is not a JSON scalar, or None when it is one."""
    if value is None or isinstance(value, (str, bool)):
        return None
    if isinstance(value, int):
        return None if INT_MIN <= value <= INT_MAX else f"integer {value} does not fit in 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a JSON number"
    if isinstance(value, (list, tuple)):
        return "a list is allowed only as IN :name (without parentheses)"
    return (
        f"{type(value).__name__} {value!r:.60} is not a JSON scalar "
        "(use str, int, float, bool or None)"
    )


def _items(values: Iterable, what: str) -> tuple:
    """The items of an IN list: non-NULL JSON scalars."""
    items = tuple(_scalar(value, what) for value in values)
    if any(item is None for item in items):
        raise QueryError(f"{what}: NULL is not allowed in IN (use IS NULL)")
    return items


def _order(order_by: Any) -> tuple:
    if order_by is None:
        return ()
    specs = [order_by] if isinstance(order_by, str) else order_by
    if not isinstance(specs, (list, tuple)):
        raise QueryError(f"order_by must be a field name or a list of them, not {order_by!r}")
    order = []
    for spec in specs:
        descending = isinstance(spec, str) and spec.startswith("-")
        path = _dotted(spec[1:] if descending else spec, "order_by entry")
        order.append((path, descending))
    return tuple(order)


def _dict_where(where: dict) -> Node | None:
    items: list[Node] = []
    for key, value in where.items():
        path = _dotted(key, "a where key")
        what = f"where[{key!r}]"
        if value is None:
            items.append(IsNull(path))
        elif isinstance(value, (list, tuple)):
            items.append(In(path, _items(value, what)))
        else:
            items.append(Compare("=", path, _scalar(value, what)))
    if not items:
        return None
    return items[0] if len(items) == 1 else And(tuple(items))


# -- SQL text -> nodes -----------------------------------------------------------------------

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


def _sql_where(text: str, params: dict) -> Node | None:
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
    if len(items) == 1:
        return items[0]
    return Or(tuple(items)) if key == "or" else And(tuple(items))


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


# -- evaluation ------------------------------------------------------------------------------

NULL, BOOL, NUMBER, STRING, ARRAY, OBJECT = range(6)  # kinds, in sort order


class _Kinds(dict):
    """type -> kind; exact JSON types are preloaded, subclasses are resolved once on first use."""

    def __missing__(self, cls: type) -> int:
        for base, kind in ((bool, BOOL), ((int, float), NUMBER), (str, STRING), (dict, OBJECT)):
            if issubclass(cls, base):
                break
        else:
            kind = ARRAY  # list and tuple subclasses (records hold JSON values only)
        self[cls] = kind
        return kind


_KIND = _Kinds(
    {
        type(None): NULL,
        bool: BOOL,
        int: NUMBER,
        float: NUMBER,
        str: STRING,
        list: ARRAY,
        dict: OBJECT,
    }
)
_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NEGATED = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}  # within a kind
_CROSS_KIND = {"=": False, "!=": True}  # an ordering across kinds is unknown (None)

_by_id = itemgetter("id")


def _getter(path: Path) -> Callable[[dict], Any]:
    if len(path) == 1:
        return methodcaller("get", path[0])  # the common case, without a Python frame
    return partial(lookup, path=path)


def _sort_key(path: Path) -> Callable[[dict], tuple]:
    get, kinds = _getter(path), _KIND

    def key(doc: dict) -> tuple:
        value = get(doc)
        kind = kinds[value.__class__]
        return (kind, value) if kind < ARRAY else (kind, 0)  # arrays, objects: equal in kind

    return key


def _matcher(where: Node | None) -> Callable[[dict], bool]:
    return (lambda doc: True) if where is None else _compile(where, True)


def _compile(node: Node, want: bool) -> Callable[[dict], bool]:
    """A function telling whether ``node`` evaluates to ``want`` (True or False) on a record.

    Three-valued logic comes out of these two-valued tests, unknown being neither true nor
    false: NOT x is true when x is false; AND is true when every item is true and false when
    one is; OR the other way round. ``matches`` is the test for true.
    """
    if isinstance(node, Not):
        return _compile(node.item, not want)
    if isinstance(node, (And, Or)):
        tests = tuple(_compile(item, want) for item in node.items)
        if isinstance(node, And) == want:  # all items must pass

            def every(doc: dict) -> bool:
                for test in tests:
                    if not test(doc):
                        return False
                return True

            return every

        def some(doc: dict) -> bool:
            for test in tests:
                if test(doc):
                    return True
            return False

        return some

    get, kinds = _getter(node.field), _KIND
    if isinstance(node, IsNull):
        return (lambda doc: get(doc) is None) if want else (lambda doc: get(doc) is not None)
    if isinstance(node, Compare):
        value, kind = node.value, kinds[node.value.__class__]
        test = _OPERATORS[node.op if want else _NEGATED[node.op]]
        across = _CROSS_KIND.get(node.op) is want  # the answer for a non-NULL of another kind

        def compare(doc: dict) -> bool:
            x = get(doc)
            k = kinds[x.__class__]
            if k == kind:
                return test(x, value)
            return across and k != NULL

        return compare
    if isinstance(node, In):
        # One set per kind, so that true never meets 1 in the same set.
        sets: dict = {}
        for item in node.values:
            sets.setdefault(kinds[item.__class__], set()).add(item)

        def contains(doc: dict) -> bool:
            x = get(doc)
            k = kinds[x.__class__]
            found = sets.get(k)
            if found is None:  # no item of that kind (arrays and objects never are items)
                return k != NULL and not want
            return (x in found) is want

        return contains
    if isinstance(node, Like):
        regex = "".join(
            ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in node.pattern
        )
        fullmatch = re.compile(regex, re.DOTALL).fullmatch

        def like(doc: dict) -> bool:
            x = get(doc)
            return isinstance(x, str) and (fullmatch(x) is not None) is want

        return like
    raise TypeError(f"not a query node: {node!r}")


_EVERYTHING = Query(None, (), None, 0)
