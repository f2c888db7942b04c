"""The small interface every engine (the Store and each raw reference) implements."""

from __future__ import annotations

import random
from typing import Any

from ..data import CHUNK, make_doc, make_id

#: every operation a workload can ask of an engine (the Store and the database references do
#: them all; a raw-file reference only some)
ALL_OPS = frozenset(
    {"insert", "get", "update", "find", "count", "tx500"}
    | {"find_eq", "count_eq", "find_few", "top_asc", "top_desc"}
)


class Engine:
    """``n`` operations of one kind on one location. Subclasses set ``label`` and ``ops``
    (the workloads they can run) and implement those operations."""

    label = "?"
    ops: frozenset[str] = frozenset()
    kind = "?"  # the ``spec()["kind"]`` a worker process rebuilds it from

    def __init__(self) -> None:
        self.loaded = 0
        self._next = 0
        self._sample: list[int] = [0]
        self._pos = 0

    # lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self, op: str) -> str:
        """What this engine does for ``op`` (the "reference" column)."""
        return self.label

    def spec(self) -> dict[str, Any]:
        """What a worker process needs to open the same location (:func:`engine_from_spec`)."""
        raise NotImplementedError(f"{self.label} cannot be opened by another process")

    def cold_code(self, probe: str) -> str | None:
        """Python source reading record ``probe`` in a fresh process (cold start), or None."""
        return None

    def declare_indexes(self, fields: tuple[str, ...]) -> None:
        """Index each of ``fields`` (engines without indexes ignore this)."""

    def setup(self, records: int, indexes: tuple[str, ...] = ()) -> "Engine":
        """Open, declare ``indexes`` and load ``records`` records ``r00000000..``; the loaded
        ids are then sampled in the same pseudo-random order by every engine."""
        self.open()
        if indexes:
            self.declare_indexes(indexes)
        for start in range(0, records, CHUNK):
            end = min(records, start + CHUNK)
            self.load([(make_id(i), make_doc(i)) for i in range(start, end)])
        self.loaded = self._next = records
        order = list(range(max(records, 1)))
        random.Random(7).shuffle(order)
        self._sample = order
        return self

    def fresh_ids(self, n: int) -> list[int]:
        first, self._next = self._next, self._next + n
        return list(range(first, first + n))

    def sample_ids(self, n: int) -> list[int]:
        out = [self._sample[(self._pos + k) % len(self._sample)] for k in range(n)]
        self._pos += n
        return out

    def rewind(self) -> None:
        self._pos = 0

    # operations (only those in ``ops`` are called) ----------------------------------------
    def load(self, items: list[tuple[str, dict]]) -> None:
        self.tx(items)

    def insert(self, id: str, doc: dict) -> None:
        raise NotImplementedError

    def get(self, id: str) -> Any:
        raise NotImplementedError

    def update(self, id: str, changes: dict) -> None:
        raise NotImplementedError

    def find(self) -> int:
        """:data:`FILTER` (ordered by id): the number of records returned."""
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def find_eq(self, status: str) -> int:
        """``status = :s`` (``'failed'``: 1% of records): the number of records returned."""
        raise NotImplementedError

    def count_eq(self, status: str) -> int:
        raise NotImplementedError

    def top(self, desc: bool) -> list[int]:
        """``ORDER BY seq [DESC] LIMIT 10``: the ``seq`` values returned."""
        raise NotImplementedError

    def count_all(self) -> int:
        raise NotImplementedError

    def tx(self, items: list[tuple[str, dict]]) -> None:
        raise NotImplementedError
