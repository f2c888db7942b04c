"""The public Store API, exactly as users call it."""

from __future__ import annotations

from typing import Any

from ..data import EQ_FILTER, FILTER, FILTER_PARAMS, ORDER_FIELD, TABLE, TOP_K
from .base import ALL_OPS, Engine


class StoreEngine(Engine):
    ops = ALL_OPS
    kind = "store"

    def __init__(
        self, url: str, project: str, options: dict | None = None, label: str = "Store"
    ) -> None:
        super().__init__()
        self.url, self.project, self.options, self.label = url, project, dict(options or {}), label
        self.store: Any = None

    def spec(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "url": self.url,
            "project": self.project,
            "options": self.options,
        }

    def cold_code(self, probe: str) -> str:
        """The URL comes from ``$CONDUCTOR_BENCH_URL`` (never on a command line)."""
        return (
            "import os, conductor_store as cs\n"
            f"s = cs.open(os.environ['CONDUCTOR_BENCH_URL'], project={self.project!r}, "
            f"**{self.options!r})\n"
            f"d = s.get({TABLE!r}, {probe!r})\n"
        )

    def open(self) -> None:
        import conductor_store

        self.store = conductor_store.open(self.url, project=self.project, **self.options)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def declare_indexes(self, fields: tuple[str, ...]) -> None:
        """``store.ensure_index`` when the Store has it, else the backend's hook (whose
        default accepts a non-unique index and ignores it: the figures then show no index)."""
        from ...backends.base import IndexSpec

        ensure = getattr(self.store, "ensure_index", None)
        for f in fields:
            if ensure is not None:
                ensure(TABLE, (f,))
            else:
                self.store.backend.ensure_index(IndexSpec(TABLE, (f,)))

    def insert(self, id: str, doc: dict) -> None:
        self.store.insert(TABLE, doc, id=id)

    def get(self, id: str) -> Any:
        return self.store.get(TABLE, id)

    def update(self, id: str, changes: dict) -> None:
        self.store.update(TABLE, id, changes)

    def update_seq(self, id: str, changes: dict) -> int | None:
        """One update as its own commit; returns the commit's seq."""
        tx = self.store.transaction()
        tx.update(TABLE, id, changes)
        return tx.commit()

    def find(self) -> int:
        return len(self.store.find(TABLE, FILTER, params=FILTER_PARAMS))

    def count(self) -> int:
        return self.store.count(TABLE, FILTER, params=FILTER_PARAMS)

    def find_eq(self, status: str) -> int:
        return len(self.store.find(TABLE, EQ_FILTER, params={"s": status}))

    def count_eq(self, status: str) -> int:
        return self.store.count(TABLE, EQ_FILTER, params={"s": status})

    def top(self, desc: bool) -> list[int]:
        order = ("-" if desc else "") + ORDER_FIELD
        return [d[ORDER_FIELD] for d in self.store.find(TABLE, order_by=order, limit=TOP_K)]

    def count_all(self) -> int:
        return self.store.count(TABLE)

    def tx(self, items: list[tuple[str, dict]]) -> None:
        with self.store.transaction() as tx:
            for id, doc in items:
                tx.insert(TABLE, doc, id=id)
