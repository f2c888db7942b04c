"""Indexes: kept in memory beside the reader cache, declared in ``.meta/indexes.json``.

An :class:`Index` on ``(table, fields)`` holds, for every record of a table the cache holds
completely, its key -- one ``(kind, value)`` pair per field, the very key the query layer sorts
by (:func:`conductor_store.query._sort_key`) -- in a hash map (equality on every field) and a
sorted list of ``(key, id)`` (equality on leading fields, then a range; ordered iteration). The
cache keeps it current as commits arrive (from this process or through the log), so a selective
query touches only what matches.

An index never decides an answer, only which records are looked at: :func:`plan` turns the
conjuncts of a ``where`` into key ranges that hold every matching record (a superset), and the
records found are then filtered with the query's own matcher, ordered and sliced as the query
says -- so results are identical with and without indexes.

``unique`` indexes make a commit that would give two records the same key raise
``ConflictError`` (records with a NULL or missing field are not constrained).
"""

from __future__ import annotations

import heapq
import json
import os
from bisect import bisect_left, insort
from dataclasses import replace
from typing import Any, Iterator, NamedTuple, Optional

from ...query import NULL, And, Compare, In, IsNull, Query, _sort_key
from ..base import IndexSpec
from .files import FILE_MODE, fsync_dir, write_all

INDEX_FILE = "indexes.json"


class _Top:
    """Greater than every key part (an open upper bound for ``bisect``)."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return other is self

    __hash__ = object.__hash__


TOP = _Top()


class Index:
    """One index over the records of one cached table (see the module docstring)."""

    __slots__ = ("spec", "paths", "keyfns", "eq", "_items", "of")

    def __init__(self, spec: IndexSpec) -> None:
        self.spec = spec
        self.paths = tuple(tuple(f.split(".")) for f in spec.fields)
        self.keyfns = tuple(_sort_key(p) for p in self.paths)
        self.eq: dict = {}  # key -> set of ids
        self._items: Optional[list] = []  # sorted (key, id); None: not sorted yet
        self.of: dict = {}  # id -> key

    @property
    def items(self) -> list:
        """The sorted ``(key, id)`` list, sorted on first use (a table loaded whole sorts
        nothing until a range or an order asks: sorting 100k keys takes ~0.3 s)."""
        if self._items is None:
            self._items = sorted((k, id) for id, k in self.of.items())
        return self._items

    def key(self, doc: dict) -> tuple:
        return tuple(f(doc) for f in self.keyfns)

    def build(self, docs: dict) -> None:
        keyof = self.key
        self.of = {id: keyof(doc) for id, doc in docs.items()}
        self.eq = {}
        for id, k in self.of.items():
            self.eq.setdefault(k, set()).add(id)
        self._items = None

    def put(self, id: str, doc: dict) -> None:
        new = self.key(doc)
        old = self.of.get(id)
        if old == new:
            return
        if old is not None:
            self._unlink(id, old)
        self.of[id] = new
        self.eq.setdefault(new, set()).add(id)
        if self._items is not None:
            insort(self._items, (new, id))

    def drop(self, id: str) -> None:
        old = self.of.pop(id, None)
        if old is not None:
            self._unlink(id, old)

    def _unlink(self, id: str, key: tuple) -> None:
        ids = self.eq[key]
        ids.discard(id)
        if not ids:
            del self.eq[key]
        items = self._items
        if items is None:
            return
        i = bisect_left(items, (key, id))
        if i < len(items) and items[i] == (key, id):
            del items[i]

    # -- reading -----------------------------------------------------------------------------
    def ranges(self, bounds: list) -> Iterator[str]:
        """Ids in the given ``(lo, hi)`` key bounds (disjoint; see :func:`plan`), in order."""
        for lo, hi in bounds:
            key = self._whole_key(lo, hi)
            if key is not None:  # equality on every field, before anything sorted the index
                yield from sorted(self.eq.get(key, ()))
                continue
            items = self.items
            i, j = bisect_left(items, lo), bisect_left(items, hi)
            for n in range(i, j):
                yield items[n][1]

    def count(self, bounds: list) -> int:
        total = 0
        for lo, hi in bounds:
            key = self._whole_key(lo, hi)
            if key is not None:
                total += len(self.eq.get(key, ()))
            else:
                total += bisect_left(self.items, hi) - bisect_left(self.items, lo)
        return total

    def _whole_key(self, lo: tuple, hi: tuple) -> Optional[tuple]:
        """The key of bounds that hold exactly one whole key, while the index is unsorted."""
        if self._items is not None or len(lo) != 1 or len(lo[0]) != len(self.paths):
            return None
        return lo[0] if hi == (lo[0] + (TOP,),) else None

    def ordered(self, width: int, descending: bool) -> Iterator[str]:
        """Every id in order of the first ``width`` fields (reversed if ``descending``), ties
        broken by id ascending -- the query layer's order."""
        items = self.items
        if not descending and width == len(self.paths):
            for _, id in items:
                yield id
            return
        seq = reversed(items) if descending else iter(items)
        group: list = []
        head: Any = None
        for key, id in seq:
            k = key[:width]
            if k != head and group:
                group.sort()
                yield from group
                group = []
            head = k
            group.append(id)
        group.sort()
        yield from group


# -- planning ------------------------------------------------------------------------------------
def _conjuncts(where: Any) -> list:
    if where is None:
        return []
    return list(where.items) if isinstance(where, And) else [where]


def _part(value: Any) -> tuple:
    """A query value as an index key part."""
    return _sort_key(("v",))({"v": value})


class Plan(NamedTuple):
    """Key bounds holding every record a where can match; ``exact``: only those (every
    conjunct was turned into bounds), so the records need no further filtering."""

    score: int
    bounds: list
    exact: bool


def plan(index: Index, where: Any) -> Optional[Plan]:
    """How ``index`` narrows ``where`` (None: it does not)."""
    conj = _conjuncts(where)
    prefixes: list = [()]
    used = 0
    for path in index.paths:
        eq = [c for c in conj if _is_eq(c, path)]
        if not eq:
            break
        prefixes = [p + (part,) for p in prefixes for part in _eq_parts(eq[0])]
        used += 1
        if len(prefixes) > 1024:
            return None
    ranges = (
        [] if used == len(index.paths) else [c for c in conj if _is_range(c, index.paths[used])]
    )
    if used == 0 and not ranges:
        return None
    rng = _range(ranges)
    bounds = []
    for p in dict.fromkeys(prefixes):  # (IN (1, 1.0) is one key)
        if rng is None:
            bounds.append(((p,), (p + (TOP,),)))
        else:
            bounds.append(((p + rng[0],), (p + rng[1],)))
    return Plan(used * 2 + bool(ranges), bounds, used + len(ranges) == len(conj))


def _eq_parts(node: Any) -> list:
    if isinstance(node, In):
        return [_part(v) for v in node.values]
    if isinstance(node, IsNull):
        return [(NULL, None)]
    return [_part(node.value)]


def _is_eq(node: Any, path: tuple) -> bool:
    if isinstance(node, Compare):
        return node.op == "=" and node.field == path
    return isinstance(node, (In, IsNull)) and node.field == path


def _is_range(node: Any, path: tuple) -> bool:
    return isinstance(node, Compare) and node.op in ("<", "<=", ">", ">=") and node.field == path


def _range(nodes: list) -> Optional[tuple]:
    """(lo, hi) suffixes bounding one field by its range conjuncts (of one kind)."""
    if not nodes:
        return None
    kind = _part(nodes[0].value)[0]
    lo: tuple = ((kind,),)
    hi: tuple = ((kind + 1,),)
    for node in nodes:
        part = _part(node.value)
        if part[0] != kind:
            return ((kind,),), ((kind,),)  # two kinds: nothing matches both
        if node.op in (">", ">="):
            lo = max(lo, (part, TOP) if node.op == ">" else (part,))
        else:
            hi = min(hi, (part,) if node.op == "<" else (part, TOP))
    return lo, hi


def order_index(indexes: list, query: Query) -> Optional[tuple[Index, bool]]:
    """An index whose leading fields are the query's ``order_by`` (all one direction)."""
    order = query.order
    if not order or len({d for _, d in order}) != 1:
        return None
    paths = tuple(p for p, _ in order)
    for index in indexes:
        if index.paths[: len(paths)] == paths:
            return index, order[0][1]
    return None


def top(query: Query, rows: list) -> list:
    """Order and slice ``rows`` (already filtered) as ``query`` says: a full sort only without
    a limit, else the first ``offset + limit`` in O(n log k) (``heapq``)."""
    if query.limit is None:
        return _unfiltered(query).apply(rows)
    keyfns = [(_sort_key(p), d) for p, d in query.order]

    def key(doc: dict) -> tuple:
        return (*(_Rev(f(doc)) if d else f(doc) for f, d in keyfns), doc["id"])

    return heapq.nsmallest(query.offset + query.limit, rows, key=key)[query.offset :]


def _unfiltered(query: Query) -> Query:
    return query if query.where is None else replace(query, where=None)


class _Rev:
    """A sort key part in reverse order."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: "_Rev") -> bool:
        return other.v < self.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rev) and other.v == self.v

    __hash__ = None  # type: ignore[assignment]


# -- persistence ---------------------------------------------------------------------------------
def load_specs(meta: str) -> list[IndexSpec]:
    try:
        with open(os.path.join(meta, INDEX_FILE), "rb") as f:
            raw = json.loads(f.read() or b"[]")
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        from ...errors import CorruptRecordError

        path = os.path.join(meta, INDEX_FILE)
        raise CorruptRecordError(f"cannot read the index list {path}: {exc}", path) from None
    return sorted(IndexSpec(s["table"], tuple(s["fields"]), bool(s["unique"])) for s in raw)


def save_specs(meta: str, specs: list[IndexSpec]) -> None:
    path = os.path.join(meta, INDEX_FILE)
    tmp = f"{path}.{os.getpid()}.tmp"
    data = json.dumps(
        [{"table": s.table, "fields": list(s.fields), "unique": s.unique} for s in sorted(specs)],
        indent=1,
    ).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        write_all(fd, data + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(meta)
