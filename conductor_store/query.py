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
* ``limit`` above ``2**63 - 1`` means no limit and ``offset`` above it is ``2**63 - 1``
  (:func:`clamp_count`): a backend never sees a larger number.
* Strings holding NUL or a lone surrogate are refused as values (as in documents).

Cost: a tree is flat (:func:`junction` splices nested ANDs into one ``And`` and ORs into one
``Or``, and merges ORed equalities on one field into one ``In``), so 3,000 ORs are one node;
``LIKE`` is matched piece by piece without backtracking (:func:`like_matcher`). SQL text is
turned into this tree by :mod:`conductor_store.where_sql`.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from dataclasses import dataclass
from functools import partial
from operator import itemgetter, methodcaller
from typing import Any, Callable, Iterable, Union

from .errors import QueryError, StoreError
from .validation import INT_MAX, INT_MIN, string_problem

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


def junction(kind: type[And] | type[Or], items: Iterable[Node]) -> Node:
    """``kind(items)`` in its flat form, the one every constructor of a tree uses: items of the
    same kind are spliced in (a chain of 3,000 ORs is one node, not 3,000 levels), and in an
    OR the equalities and INs on one field merge into one ``In`` at the place of the first
    (the same answer under three-valued logic, found by one set lookup). One item is itself."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    if kind is Or:
        flat = _merge_equalities(flat)
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _merge_equalities(items: list[Node]) -> list[Node]:
    groups: dict[Path, list] = {}  # field -> its equalities and INs, in order
    for item in items:
        if _is_equality(item):
            groups.setdefault(item.field, []).append(item)  # type: ignore[union-attr]
    merged: list[Node] = []
    for item in items:
        if not _is_equality(item):
            merged.append(item)
            continue
        group = groups.pop(item.field, None)  # type: ignore[union-attr]
        if group is None:  # merged into the first of its field
            continue
        if len(group) == 1:
            merged.append(item)
            continue
        values: dict = {}
        for member in group:
            for value in (member.value,) if isinstance(member, Compare) else member.values:
                values.setdefault((isinstance(value, bool), value), value)  # True is not 1
        merged.append(In(item.field, tuple(values.values())))  # type: ignore[union-attr]
    return merged


def _is_equality(item: Node) -> bool:
    return isinstance(item, In) or (isinstance(item, Compare) and item.op == "=")


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
        from .where_sql import sql_where  # sqlglot loads with the first SQL where

        node = sql_where(where, params or {})
    else:
        raise QueryError(f"where must be a dict, a SQL string or None, not {type(where).__name__}")
    order = _order(order_by)
    if limit is not None and not _is_count(limit):
        raise QueryError(f"limit must be None or an integer >= 0, not {limit!r}")
    if not _is_count(offset):
        raise QueryError(f"offset must be an integer >= 0, not {offset!r}")
    limit, offset = clamp_count(limit), min(offset, INT_MAX)
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


def clamp_count(limit: int | None) -> int | None:
    """A ``limit`` above ``2**63 - 1`` means "all" (None), on every backend alike; an
    ``offset`` above it is ``2**63 - 1`` (past every record). Backends never see more."""
    return None if limit is None or limit > INT_MAX else limit


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_path(segments: list, shown: str, error: type[StoreError] = QueryError) -> Path:
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            hint = " ($name parameters are not supported: use :name)" if segment[:1] == "$" else ""
            raise error(
                f"field {shown!r}: segment {segment!r} is not supported "
                f"(path segments match [A-Za-z_][A-Za-z0-9_]*){hint}"
            )
    return tuple(segments)


def field_path(text: Any, what: str, error: type[StoreError] = QueryError) -> Path:
    """The path of the dotted field name ``text`` (``what`` names it in the message), or
    ``error`` saying why it is not one. The one rule for field names, queries and indexes."""
    if not isinstance(text, str):
        raise error(f"{what} must be a field name (str), not {text!r:.60}")
    return _check_path(text.split("."), text, error)


def _scalar(value: Any, what: str) -> Any:
    """``value`` if it is a JSON scalar (None included), else QueryError."""
    problem = _problem(value)
    if problem:
        raise QueryError(f"{what}: {problem}")
    return value


def _problem(value: Any) -> str | None:
    """Why ``value`` is not a JSON scalar, or None when it is one."""
    if isinstance(value, str):
        return string_problem(value)
    if value is None or isinstance(value, bool):
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
        path = field_path(spec[1:] if descending else spec, "order_by entry")
        order.append((path, descending))
    return tuple(order)


def _dict_where(where: dict) -> Node | None:
    items: list[Node] = []
    for key, value in where.items():
        path = field_path(key, "a where key")
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


# -- evaluation ------------------------------------------------------------------------------

NULL, BOOL, NUMBER, STRING, ARRAY, OBJECT = range(6)  # kinds, in sort order


class _Kinds(dict):
    """type -> kind; exact JSON types are preloaded, subclasses are resolved once on first use."""

    def __missing__(self, cls: type) -> int:
        bases = ((bool, BOOL), ((int, float), NUMBER), (str, STRING), (dict, OBJECT))
        # what is left: list and tuple subclasses (records hold JSON values only)
        kind = next((kind for base, kind in bases if issubclass(cls, base)), ARRAY)
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
        return _every(tests) if isinstance(node, And) == want else _some(tests)
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
        fits = like_matcher(node.pattern)

        def like(doc: dict) -> bool:
            x = get(doc)
            return isinstance(x, str) and fits(x) is want

        return like
    raise TypeError(f"not a query node: {node!r}")


def _every(tests: tuple) -> Callable[[dict], bool]:
    def every(doc: dict) -> bool:
        for test in tests:
            if not test(doc):
                return False
        return True

    return every


def _some(tests: tuple) -> Callable[[dict], bool]:
    def some(doc: dict) -> bool:
        for test in tests:
            if test(doc):
                return True
        return False

    return some


def like_matcher(pattern: str) -> Callable[[str], bool]:
    """``text LIKE pattern`` (``%``: any run, ``_``: any one character) without backtracking:
    the pieces between ``%`` are found left to right, each at its leftmost place, which is
    exact for ``%`` and costs at most (text length x pattern length), never exponential."""
    first, *middle = [_Piece(part) for part in pattern.split("%")]
    if not middle:
        return lambda text: len(text) == first.size and first.at(text, 0)
    *middle, last = middle
    least = first.size + last.size + sum(piece.size for piece in middle)

    def fits(text: str) -> bool:
        end = len(text) - last.size
        if len(text) < least or not (first.at(text, 0) and last.at(text, end)):
            return False
        start = first.size
        for piece in middle:
            found = piece.find(text, start, end)
            if found < 0:
                return False
            start = found + piece.size
        return True

    return fits


class _Piece:
    """A run of a LIKE pattern between ``%``: literal characters and ``_`` (any one)."""

    def __init__(self, text: str) -> None:
        self.size = len(text)
        self._text = text
        self._regex = None
        if "_" in text:  # '.' and literals only: a fixed-length regex never backtracks
            body = "".join("." if c == "_" else re.escape(c) for c in text)
            self._regex = re.compile(body, re.DOTALL)

    def at(self, text: str, pos: int) -> bool:
        """Whether the piece matches ``text[pos:pos + size]``."""
        if self._regex is None:
            return text.startswith(self._text, pos)
        return self._regex.match(text, pos, pos + self.size) is not None

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost place in ``text[start:end]`` where the piece matches whole, or -1."""
        if self._regex is None:
            return text.find(self._text, start, end)
        found = self._regex.search(text, start, end)
        return -1 if found is None else found.start()


_EVERYTHING = Query(None, (), None, 0)
