"""The small interface every backend implements.

A backend stores documents and a change log for one project and applies commits atomically.
Everything else -- validation, id generation, transactions' read/write bookkeeping, query
parsing, retries, domain records -- lives above it in :mod:`conductor_store.store`.

Documents crossing this interface are plain dicts holding the record's fields plus ``"id"``
(str) and ``"_version"`` (int): **the seq of the commit that last wrote the record** (like
etcd's mod_revision). It grows on every write and never repeats for a key, even across a
delete and a re-create, so a version check can never be fooled by a record that went away and
came back (ABA). Every record a commit writes gets that commit's seq.

What a backend may assume about its input
-----------------------------------------
The :class:`~conductor_store.Store` checks every argument before it calls a backend, so a
backend must not check them again (one rule, one place: :mod:`conductor_store.validation`):

* ``table`` matches ``[a-z_][a-z0-9_]{0,63}`` and ``id`` matches ``[A-Za-z0-9_.:-]{1,128}``
  and is never ``.`` or ``..``; the project matches ``[A-Za-z0-9][A-Za-z0-9_-]{0,63}``.
  These are safe as file names and as SurrealDB identifiers.
* ``Write.kind`` is one of the four kinds; ``Write.doc`` is None exactly for ``delete``, and
  otherwise a private, JSON-only dict (str keys; str, bool, None, 64-bit int, finite float,
  list, dict; nested at most 64 deep; no string holding NUL or a lone surrogate) without
  ``id`` or ``_version``. The backend may keep it; nobody else holds a reference.
* A commit has at most one write per ``(table, id)``; ``checks`` keys are ``(table, id)``
  pairs, each with an int version or None.
* ``Query`` objects come from :func:`~conductor_store.query.compile_query`: field paths, values,
  ``limit`` and ``offset`` (each at most ``2**63 - 1``) are validated.
* ``since`` and ``limit`` of :meth:`Backend.changes` are non-negative ints (``limit`` at most
  ``2**63 - 1``) and ``tables`` a list of valid table names; :class:`IndexSpec` tables and
  field paths are valid.

What it must not assume: that what it reads back from disk or a server is well formed (that is
a :class:`~conductor_store.CorruptRecordError`), or that it is the only process or thread.
Every error it lets escape must be a :class:`~conductor_store.StoreError`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Literal, NamedTuple, Optional

from ..validation import copy_json

if TYPE_CHECKING:
    from ..query import Query
    from ..sql import Bound

Key = tuple  # (table, id)


class Change(NamedTuple):
    """One record's change in one commit. ``doc`` is the document after it (None for delete);
    ``time`` is the commit's wall-clock time (Unix seconds, UTC) when the backend records it."""

    seq: int
    table: str
    id: str
    op: Literal["insert", "update", "delete"]
    doc: Optional[dict]
    time: Optional[float] = None


class IndexSpec(NamedTuple):
    """An index on one table: equality and range on ``fields`` (dotted paths), in order.
    ``unique`` indexes make a commit that would give two records the same values raise
    ``ConflictError`` (records missing one of the fields are not constrained)."""

    table: str
    fields: tuple
    unique: bool = False


@dataclass(frozen=True)
class Write:
    """One write of a commit.

    kind:
      ``insert`` -- create; the record must not exist at commit time, else ``ConflictError``.
      ``put``    -- create or replace with ``doc``.
      ``merge``  -- shallow-merge ``doc`` into the existing record; ``NotFoundError`` if absent.
      ``delete`` -- remove the record if it exists (a no-op, and no change, if it does not).
    ``doc`` holds fields only (never ``id``/``_version``); None for delete.
    """

    kind: Literal["insert", "put", "merge", "delete"]
    table: str
    id: str
    doc: Optional[dict] = None


class CommitResult(NamedTuple):
    """``seq`` is the commit's number (None when nothing changed); ``changes`` has one entry
    per write, in order: the Change it made, or None when it changed nothing."""

    seq: Optional[int]
    changes: list


class Backend(ABC):
    """One project's data at one location. Implementations must be safe to call from many
    threads at once; :meth:`commit` must be atomic (all writes and their change-log entries, or
    nothing) and isolated from concurrent commits by any process that can open the location."""

    #: short name shown by ``Store.info()``, e.g. ``"json"``, ``"surrealdb-mem"``.
    name: ClassVar[str] = "?"

    url: str = ""  # the location, without any password

    # -- reads ---------------------------------------------------------------------------
    @abstractmethod
    def get(self, table: str, id: str) -> dict | None:
        """Return a fresh copy of the record, or None."""

    def get_many(self, table: str, ids: list[str]) -> list[dict]:
        """Records in the order asked, missing ones left out (fresh copies)."""
        return [doc for doc in (self.get(table, i) for i in ids) if doc is not None]

    @abstractmethod
    def scan(self, table: str) -> Iterable[dict]:
        """Every record of ``table`` as one consistent snapshot. The dicts may be shared with a
        cache: callers must not mutate them (``find`` copies what it returns)."""

    def find(self, table: str, query: "Query") -> list[dict]:
        """Records matching ``query``, ordered and sliced (fresh copies). Backends that can
        push the query down override this; the default evaluates it in Python."""
        return [copy_json(doc) for doc in query.apply(self.scan(table))]

    def count(self, table: str, query: "Query") -> int:
        matches = query.matches
        return sum(1 for doc in self.scan(table) if matches(doc))

    def select(self, bound: "Bound") -> list[dict]:
        """The rows of a ``store.query`` (see :mod:`conductor_store.sql`). Backends that can
        push a query down override this; the default evaluates it in Python over ``scan``."""
        from ..sql import run

        return run(bound, self.scan(bound.table))

    @abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables holding at least one record, sorted."""

    # -- writes --------------------------------------------------------------------------
    @abstractmethod
    def commit(self, writes: list[Write], checks: dict[Key, int | None]) -> CommitResult:
        """Atomically: verify that every ``(table, id)`` in ``checks`` still has the given
        ``_version`` (None: still absent), apply ``writes`` in order, give the commit the next
        number of the project's sequence (which becomes the ``_version`` of every record it
        writes) and record its changes in the change log.

        Raises ``ConflictError`` (a check failed, or an ``insert`` found the record) or
        ``NotFoundError`` (a ``merge`` found nothing); then nothing at all was written.
        A commit whose writes change nothing still verifies its checks but takes no number.
        """

    # -- change log ----------------------------------------------------------------------
    @abstractmethod
    def changes(
        self, since: int = 0, tables: list[str] | None = None, limit: int | None = None
    ) -> list[Change]:
        """Changes of commits numbered > ``since``, in commit order (then write order)."""

    def pruned_through(self) -> int:
        """The highest seq whose changes were removed by :meth:`prune_changes` (0: none)."""
        return 0

    def prune_changes(self, through: int) -> None:
        """Forget the change-log entries of commits numbered <= ``through`` (data is kept).
        The default keeps everything, which is always correct."""

    # -- watching (used by conductor_store/watch.py) --------------------------------------
    def change_signal_path(self) -> str | None:
        """A file or directory whose contents change whenever a commit becomes visible, from
        any process; watchers then wait on it with inotify (where available) instead of
        polling. None (the default): no such path, watchers use :meth:`wait_for_commit`."""
        return None

    def wait_for_commit(self, after_seq: int, timeout: float) -> bool:
        """Block until a commit numbered above ``after_seq`` may be visible (True; a false
        alarm is allowed) or ``timeout`` seconds pass (False). The default wakes at once for
        commits made in this process and polls :meth:`changes` for others' commits, every
        1 ms at first, backing off to 100 ms while nothing happens."""
        from ..watch import poll_for_commit

        return poll_for_commit(self, after_seq, timeout)

    # -- indexes -------------------------------------------------------------------------
    def ensure_index(self, spec: IndexSpec) -> None:
        """Declare an index (idempotent; persisted with the data, seen by every process).
        Answers never depend on indexes, only their cost does: a backend without them accepts
        a non-unique one and does nothing (the default), and refuses a unique one."""
        if spec.unique:
            from ..errors import StoreError

            raise StoreError(f"the {self.name} backend cannot enforce unique indexes")

    def indexes(self) -> list[IndexSpec]:
        """The indexes this backend keeps, sorted (the default keeps none)."""
        return []

    # -- repair --------------------------------------------------------------------------
    def quarantine(self, table: str, id: str) -> str:
        """Move a record that cannot be read back out of the way (never deleting it) and
        return where it went. Backends that can hold corrupt records override this."""
        from ..errors import StoreError

        raise StoreError(f"quarantine is not supported by the {self.name} backend")

    # -- similarity search ----------------------------------------------------------------
    def nearest(
        self, table: str, field: str, vector: list[float], k: int, query: "Query | None" = None
    ) -> list[tuple[dict, float]]:
        """The ``k`` records of ``table`` (matching ``query``, when given) whose ``field`` (a
        dotted path to a list of numbers as long as ``vector``) is most cosine-similar to
        ``vector``: ``(record, score)`` pairs, best first, ties by id. Records without such a
        field, or with an all-zero one, are left out. The default scores in Python over
        :meth:`scan`; backends with vector search may push it down (same answers)."""
        path = field.split(".")
        scored = []
        for doc in self.scan(table):
            if query is not None and not query.matches(doc):
                continue
            value: Any = doc
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            score = cosine_similarity(vector, value) if isinstance(value, list) else None
            if score is not None:
                scored.append((doc, score))
        scored.sort(key=lambda pair: (-pair[1], pair[0]["id"]))
        return [(copy_json(doc), score) for doc, score in scored[:k]]

    # -- lifecycle -----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Backend-specific facts for ``Store.info()`` (never a secret)."""
        return {}

    def close(self) -> None:
        """Release files, locks and connections. Called once by ``Store.close()``."""


def cosine_similarity(a: list, b: list) -> float | None:
    """Cosine similarity of two number lists of one length; None when the lengths differ, an
    item is not a number, or either vector is all zeros."""
    if len(a) != len(b) or not a:
        return None
    dot = na = nb = 0.0
    for x, y in zip(a, b):
        if not isinstance(y, (int, float)) or isinstance(y, bool):
            return None
        dot += x * y
        na += x * x
        nb += y * y
    if na == 0 or nb == 0:
        return None
    return dot / math.sqrt(na * nb)
