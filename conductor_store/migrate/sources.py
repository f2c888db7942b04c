"""Where a migration reads from: a store, or records already loaded (Conductor's layout)."""

from __future__ import annotations

from typing import Any, Iterator

from ..portable import fields, last_seq, pages

Page = list  # list[tuple[str, dict]]: (id, fields) in id order


class StoreSource:
    """Every table of one store's project, read a page at a time in id order."""

    def __init__(self, store: Any, read_page: int = 5000) -> None:
        self.store = store
        self.read_page = read_page
        self.problems: list[str] = []

    @property
    def label(self) -> str:
        return str(self.store.info()["url"])

    def tables(self) -> list[str]:
        return list(self.store.tables())

    def count(self, table: str) -> int:
        return int(self.store.count(table))

    def position(self) -> int:
        return last_seq(self.store)

    def pages(self, table: str, after: str | None, size: int) -> Iterator[Page]:
        buf: Page = []
        for page in pages(self.store, table, after, max(size, self.read_page)):
            buf += [(doc["id"], fields(doc)) for doc in page]
            while len(buf) >= size:
                yield buf[:size]
                buf = buf[size:]
        if buf:
            yield buf


class LoadedSource:
    """Records held in memory: ``{table: {id: fields}}`` (plus problems found reading them)."""

    def __init__(self, label: str, data: dict[str, dict[str, dict]], problems: list[str]) -> None:
        self.label = label
        self.data = {t: dict(sorted(rows.items())) for t, rows in sorted(data.items()) if rows}
        self.problems = problems

    def tables(self) -> list[str]:
        return list(self.data)

    def count(self, table: str) -> int:
        return len(self.data.get(table, {}))

    def position(self) -> int:
        return 0

    def pages(self, table: str, after: str | None, size: int) -> Iterator[Page]:
        rows = [(i, d) for i, d in self.data.get(table, {}).items() if after is None or i > after]
        for start in range(0, len(rows), size):
            yield rows[start : start + size]
