"""``find`` / ``count`` through the indexes, ``ensure_index`` / ``indexes``, unique checks.

A query reads, under ``_mu`` and as one snapshot (the reader cache's seqlock, :mod:`.cache`),
only the records an index says can match (:func:`.indexes.plan`), or walks an index in
``order_by`` order until ``offset + limit`` records matched; without a usable index it reads
the whole table. What it read is then filtered with the query's own matcher and ordered and
sliced as the query says (top-k by ``heapq`` when there is a limit), outside the lock.

The declared indexes live in ``.meta/indexes.json`` (written under the writers' lock); every
process notices a change by its stat key -- at each commit (so that unique indexes declared by
another process are enforced) and at each query.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Optional

from ...errors import ConflictError, StoreError
from ...query import NULL, Query
from ...validation import copy_json
from ..base import IndexSpec
from .cache import Retry, Table
from .files import stat_key
from .indexes import INDEX_FILE, Index, Plan, load_specs, order_index, plan, save_specs, top


class Search:
    """The query side of the backend (mixed in)."""

    _meta: str
    _mu: Any
    _tables: dict
    _index_specs: list
    _index_key: Any
    _index_mark: Any
    _writer: Any
    _read_table: Callable[..., Any]
    _loaded: Callable[[str], Any]
    _lock: Callable[[], None]
    _unlock: Callable[[], None]
    _recover_locked: Callable[[], bool]

    # -- declaring -------------------------------------------------------------------------
    def ensure_index(self, spec: IndexSpec) -> None:
        fields = tuple(f if isinstance(f, str) else ".".join(f) for f in spec.fields)
        spec = IndexSpec(spec.table, fields, bool(spec.unique))  # (dotted paths, either way)
        self._lock()
        try:
            with self._mu:
                self._sync_indexes()
                specs = self._index_specs
                if spec in specs:
                    return
                self._recover_locked()
                if spec.unique:
                    self._refuse_duplicates(spec)
                same = [s for s in specs if (s.table, s.fields) != (spec.table, spec.fields)]
                save_specs(self._meta, [*same, spec])
                self._bump_lock_mark()
                self._sync_indexes()
        finally:
            self._unlock()

    def _bump_lock_mark(self) -> None:
        """Tell every writer the index list changed: the lock file's mtime, which each one
        reads when it takes the lock anyway, moves (strictly: not bound to clock ticks)."""
        path = self._writer.path
        now = max(time.time_ns(), os.stat(path).st_mtime_ns + 1)
        os.utime(path, ns=(now, now))

    def indexes(self) -> list[IndexSpec]:
        with self._mu:
            self._sync_indexes()
            return list(self._index_specs)

    def _refuse_duplicates(self, spec: IndexSpec) -> None:
        t = self._loaded_now(spec.table)
        index = Index(spec)
        index.build(t.docs)
        for key, ids in index.eq.items():
            if len(ids) > 1 and not _has_null(key):
                a, b = sorted(ids)[:2]
                raise ConflictError(
                    f"cannot make {spec.table}({', '.join(spec.fields)}) unique: "
                    f"{spec.table}:{a} and {spec.table}:{b} share those values"
                )

    def _loaded_now(self, table: str) -> Table:
        """The complete table, with the writers' lock held (no commit can be pending)."""
        t = self._loaded(table)
        if type(t) is Retry:
            raise StoreError(f"the log of {table} keeps changing under its lock")
        if t.bad:
            raise t.bad[min(t.bad)]
        return t

    def _sync_indexes(self) -> None:
        """Reload the declared indexes if ``.meta/indexes.json`` changed (with ``_mu``)."""
        path = f"{self._meta}/{INDEX_FILE}"
        key: Optional[tuple] = None
        if os.access(path, os.F_OK):  # (no exception raised in the common case: none)
            try:
                key = stat_key(os.lstat(path))
            except FileNotFoundError:
                pass
        if key == self._index_key:
            return
        self._index_specs = load_specs(self._meta) if key is not None else []
        self._index_key = key
        for name, t in self._tables.items():
            if t.complete:
                self._attach_indexes(name, t)

    def _attach_indexes(self, table: str, t: Table) -> None:
        have = {index.spec: index for index in t.indexes}
        t.indexes = []
        for spec in self._index_specs:
            if spec.table == table:
                index = have.get(spec)
                if index is None:
                    index = Index(spec)
                    index.build(t.docs)
                t.indexes.append(index)

    # -- unique indexes at commit ------------------------------------------------------------
    def _check_unique(self, final: dict, live: dict) -> None:
        """Refuse a commit that would give two records one key of a unique index (with the
        writers' lock and ``_mu``; ``final``/``live``: the staged commit's writes and docs)."""
        mark = self._writer.file.mark()  # the lock file's mtime: bumped by ensure_index
        if mark is None or mark != self._index_mark:
            self._sync_indexes()
            self._index_mark = mark
        if not self._index_specs:
            return
        tables = {table for table, _ in final}
        for spec in self._index_specs:
            if spec.unique and spec.table in tables:
                index = next(i for i in self._loaded_now(spec.table).indexes if i.spec == spec)
                _unique_in(index, spec, final, live)

    # -- queries -----------------------------------------------------------------------------
    def find(self, table: str, query: Query) -> list[dict]:
        rows, done = self._select(table, query, False)
        if not done:
            if query.where is not None:
                rows = list(filter(query.matches, rows))
            rows = top(query, rows)
        return [copy_json(doc) for doc in rows]

    def count(self, table: str, query: Query) -> int:
        rows, done = self._select(table, query, True)
        if done:
            return rows
        if query.where is None:
            return len(rows)
        return sum(1 for doc in rows if query.matches(doc))

    def _select(self, table: str, query: Query, counting: bool) -> tuple[Any, bool]:
        """(rows, done): the records to look at -- or, when ``done``, the answer itself (the
        rows found, filtered, ordered and sliced; or the count)."""
        rows, bad, done = self._read_table(self._select_once, table, query, counting)
        if bad is not None:
            raise bad
        return rows, done

    def _select_once(self, table: str, query: Query, counting: bool) -> Any:
        self._sync_indexes()
        t = self._loaded(table)
        if type(t) is Retry:
            return t
        bad = t.bad[min(t.bad)] if t.bad else None
        if bad is not None or not t.indexes:
            return list(t.docs.values()), bad, False
        if query.where is not None:
            plans = [(p, i) for i in t.indexes if (p := plan(i, query.where)) is not None]
            if plans:
                best, index = max(plans, key=lambda x: x[0].score)
                return self._planned(t, query, best, index, counting)
        ordered = order_index(t.indexes, query) if query.limit is not None else None
        if ordered is not None and not counting:
            return _walk(t, query, *ordered), None, True
        return list(t.docs.values()), None, False

    @staticmethod
    def _planned(t: Table, query: Query, best: Plan, index: Index, counting: bool) -> tuple:
        if best.exact and counting:
            return index.count(best.bounds), None, True
        docs = t.docs
        rows = [docs[id] for id in index.ranges(best.bounds)]
        if best.exact and not counting:
            return top(query, rows), None, True
        return rows, None, False


def _walk(t: Table, query: Query, index: Index, descending: bool) -> list:
    """The answer, walking ``index`` in ``order_by`` order until enough records matched."""
    want = query.offset + (query.limit or 0)
    matches, docs, out = query.matches, t.docs, []
    for id in index.ordered(len(query.order), descending):
        doc = docs[id]
        if matches(doc):
            out.append(doc)
            if len(out) >= want:
                break
    return out[query.offset :]


def _has_null(key: tuple) -> bool:
    return any(part[0] == NULL for part in key)


def _unique_in(index: Index, spec: IndexSpec, final: dict, live: dict) -> None:
    claimed: dict = {}
    for (table, id), data in final.items():
        if table != spec.table or data is None:
            continue
        key = index.key(live[(table, id)])
        if _has_null(key):
            continue
        others = [o for o in index.eq.get(key, ()) if o != id and (table, o) not in final]
        if claimed.get(key, id) != id or others:
            other = others[0] if others else claimed[key]
            raise ConflictError(
                f"unique index {spec.table}({', '.join(spec.fields)}): {table}:{id} would "
                f"share its values with {table}:{other}"
            )
        claimed[key] = id
