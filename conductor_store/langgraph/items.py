"""LangGraph's ``BaseStore`` (long-term memory: namespaced JSON items) on a conductor-store.

Items live in the table ``lg_items``, one record per (namespace, key), holding the namespace
(``namespace`` as a list, ``ns0`` its first label, for a selective lookup), the key, the value,
and creation and update times. All puts of one ``batch`` are one commit.

Semantic search works as in LangGraph's in-memory store when an ``index`` configuration
(``{"dims": ..., "embed": ..., "fields": [...]}``) is given: the texts at ``fields`` are embedded
on ``put`` and kept with the item, and ``search(query=...)`` ranks by cosine similarity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import ensure_embeddings, get_text_at_path, tokenize_path

from ..backends.base import cosine_similarity
from ..store import Store, Transaction
from ._keys import key_id

ITEMS = "lg_items"

_COMPARE = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
}


def _matches_filter(value: dict, conditions: dict[str, Any] | None) -> bool:
    for field, wanted in (conditions or {}).items():
        have = value.get(field)
        if isinstance(wanted, dict) and wanted and all(k in _COMPARE for k in wanted):
            try:
                if not all(_COMPARE[op](have, arg) for op, arg in wanted.items()):
                    return False
            except TypeError:  # values of kinds that do not compare
                return False
        elif have != wanted:
            return False
    return True


def _matches_condition(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    path = tuple(condition.path)
    if len(path) > len(namespace):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(p == "*" or p == n for p, n in zip(path, part))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class StoreBackedStore(BaseStore):
    """LangGraph's key-value store on ``store`` (any backend, the store's project)."""

    supports_ttl = False

    def __init__(self, store: Store, *, index: IndexConfig | None = None) -> None:
        self.store = store
        self.index_config = index
        self._embeddings = ensure_embeddings(index.get("embed")) if index else None
        fields = (index or {}).get("fields") or ["$"]
        self._fields = [(f, tokenize_path(f) if f != "$" else f) for f in fields]

    # -- the one abstract operation --------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order: reads see the store before this batch's puts, which are
        applied together in one commit at the end (the last put of a key wins)."""
        results: list[Result] = []
        puts: dict[tuple, PutOp] = {}
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            elif isinstance(op, PutOp):
                puts[(tuple(op.namespace), op.key)] = op
                results.append(None)
            else:
                raise ValueError(f"unknown operation {type(op).__name__}")
        if puts:
            vectors = self._embed_puts(list(puts.values()))
            self.store.atomic(lambda tx: self._apply(tx, puts, vectors))
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    # -- reads -----------------------------------------------------------------------------
    def _get(self, op: GetOp) -> Item | None:
        doc = self.store.get(ITEMS, key_id(list(op.namespace), op.key))
        return None if doc is None else Item(**_fields(doc))

    def _candidates(self, prefix: tuple[str, ...]) -> list[dict]:
        where = {"ns0": prefix[0]} if prefix else None
        n = len(prefix)
        found = [d for d in self.store.find(ITEMS, where) if tuple(d["namespace"][:n]) == prefix]
        found.sort(key=lambda d: (d["namespace"], d["key"]))
        return found

    def _search(self, op: SearchOp) -> list[SearchItem]:
        docs = [
            d
            for d in self._candidates(tuple(op.namespace_prefix))
            if _matches_filter(d["value"], op.filter)
        ]
        if op.query and self._embeddings is not None:
            query = self._embeddings.embed_query(op.query)
            scored = [(_best(query, d.get("vectors") or []), d) for d in docs]
            scored.sort(key=lambda pair: -pair[0] if pair[0] is not None else float("inf"))
        else:
            docs.sort(key=lambda d: d["updated_at"], reverse=True)
            scored = [(None, d) for d in docs]
        window = scored[op.offset : op.offset + op.limit]
        return [SearchItem(**_fields(d), score=score) for score, d in window]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        names = {tuple(d["namespace"]) for d in self._candidates(())}
        if op.match_conditions:
            names = {n for n in names if all(_matches_condition(n, c) for c in op.match_conditions)}
        if op.max_depth is not None:
            names = {n[: op.max_depth] for n in names}
        return sorted(names)[op.offset : op.offset + op.limit]

    # -- writes ----------------------------------------------------------------------------
    def _embed_puts(self, puts: list[PutOp]) -> dict[tuple, list[list[float]]]:
        """The embedding vectors of each put's indexed texts (nothing without an index)."""
        if self._embeddings is None:
            return {}
        wanted: list[tuple[tuple, str]] = []
        for op in puts:
            if op.value is None or op.index is False:
                continue
            paths = self._fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
            for _, tokens in paths:
                for text in get_text_at_path(op.value, tokens):
                    wanted.append(((tuple(op.namespace), op.key), text))
        found = self._embeddings.embed_documents([text for _, text in wanted]) if wanted else []
        vectors: dict[tuple, list[list[float]]] = {}
        for (key, _), vector in zip(wanted, found):
            vectors.setdefault(key, []).append([float(x) for x in vector])
        return vectors

    @staticmethod
    def _apply(tx: Transaction, puts: dict[tuple, PutOp], vectors: dict) -> None:
        now = _now()
        for (namespace, key), op in puts.items():
            rid = key_id(list(namespace), key)
            if op.value is None:
                tx.delete(ITEMS, rid)
                continue
            old = tx.get(ITEMS, rid)
            tx.put(
                ITEMS,
                rid,
                {
                    "namespace": list(namespace),
                    "ns0": namespace[0],
                    "key": key,
                    "value": dict(op.value),
                    "vectors": vectors.get((namespace, key)),
                    "created_at": old["created_at"] if old else now,
                    "updated_at": now,
                },
            )


def _best(query: list[float], vectors: list) -> float | None:
    """The best cosine similarity of ``query`` to any of an item's vectors (None: none)."""
    scores = [s for s in (cosine_similarity(query, v) for v in vectors) if s is not None]
    return max(scores, default=None)


def _fields(doc: dict) -> dict[str, Any]:
    return {
        "namespace": tuple(doc["namespace"]),
        "key": doc["key"],
        "value": doc["value"],
        "created_at": datetime.fromisoformat(doc["created_at"]),
        "updated_at": datetime.fromisoformat(doc["updated_at"]),
    }
