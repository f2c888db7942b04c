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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Union

from .errors import QueryError

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


@dataclass(frozen=True)
class Query:
    where: Node | None  # None matches every record
    order: tuple  # ((path, descending), ...), without the implicit id tie-breaker
    limit: int | None
    offset: int

    def matches(self, doc: dict) -> bool:  # replaced by a compiled predicate in __post_init__
        raise NotImplementedError

    def apply(self, docs: Iterable[dict]) -> list[dict]:
        """Filter, order and slice ``docs`` (returns the same dict objects, not copies)."""
        raise NotImplementedError

    def unsliced(self) -> "Query":
        """This query without limit/offset (used when a transaction overlays its writes)."""
        raise NotImplementedError


def compile_query(
    where: dict | str | None = None,
    params: dict | None = None,
    order_by: str | list[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Query:
    """Parse and validate; raises :class:`QueryError` naming any unsupported construct."""
    raise NotImplementedError
