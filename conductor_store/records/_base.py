"""What every repository shares: the store or transaction it works on, record conversion,
the generic CRUD methods of the reference, and the checks of bad input."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, TypeVar, Union

from ..errors import ConflictError, NotFoundError, ValidationError
from ..ids import new_id
from .models import Record
from .timeutil import ago_iso, now_iso

if TYPE_CHECKING:
    from ..store import Store, Transaction

R = TypeVar("R", bound=Record)
T = TypeVar("T")
Reader = Union["Store", "Transaction"]


class Refused(Exception):
    """Raised inside an atomic function to end it with ``error``, without a retry."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Repository(Generic[R]):
    """One table's records on a :class:`Store`, or inside a :class:`Transaction` when bound
    with :meth:`using` (then every call joins that transaction and commits with it)."""

    table: str = ""
    record: type[Record] = Record
    #: the timestamp field ``find_all`` orders by
    time_field: str = "created_at"

    def __init__(self, store: "Store", tx: "Transaction | None" = None) -> None:
        self._store = store
        self._tx = tx

    def using(self, tx: "Transaction") -> "Repository[R]":
        """The same repository inside ``tx``: its writes commit (or roll back) with ``tx``."""
        return type(self)(self._store, tx)

    @property
    def store(self) -> "Store":
        """The store this repository's records live in."""
        return self._store

    def __repr__(self) -> str:
        where = "in a transaction" if self._tx is not None else repr(self._store)
        return f"<{type(self).__name__} {where}>"

    # -- plumbing ------------------------------------------------------------------------
    @property
    def _db(self) -> Reader:
        """Where reads and single writes go: the bound transaction, else the store."""
        return self._tx if self._tx is not None else self._store

    def _atomic(self, fn: Callable[["Transaction"], T]) -> T:
        """Run ``fn(tx)`` in the bound transaction, else in ``store.atomic`` (retried on
        conflicts): read-modify-write methods go through here. ``fn`` raises
        :class:`Refused` for an error that retrying cannot cure (its ``error`` is raised)."""
        try:
            if self._tx is not None:
                return fn(self._tx)
            return self._store.atomic(fn, retries=50)
        except Refused as refused:
            raise refused.error from None

    def _insert_new(self, tx: "Transaction", id: str, doc: dict) -> dict:
        """Insert in ``tx``; an id that exists already is a ConflictError not retried."""
        if tx.get(self.table, id) is not None:
            raise Refused(ConflictError(f"{self.table}: {id!r} already exists"))
        return tx.insert(self.table, doc, id=id)

    def _rec(self, doc: dict | None) -> R | None:
        return None if doc is None else self.record.from_doc(doc)  # type: ignore[return-value]

    def _recs(self, docs: Iterable[dict]) -> list[R]:
        return [self.record.from_doc(d) for d in docs]  # type: ignore[misc]

    def _require(self, tx: Reader, id: str) -> dict:
        doc = tx.get(self.table, id)
        if doc is None:
            raise NotFoundError(f"{self.table}: no record {id!r}")
        return doc

    # -- the reference's generic methods -------------------------------------------------
    def find_by_id(self, record_id: str) -> R | None:
        return self._rec(self._db.get(self.table, record_id))

    def find_all(
        self,
        limit: int = 100,
        offset: int = 0,
        order_by: str | None = None,
        descending: bool = True,
    ) -> list[R]:
        """Records ordered by ``order_by`` (default: the creation time), newest first."""
        key = order_by or self.time_field
        return self._recs(
            self._db.find(
                self.table, order_by=("-" if descending else "") + key, limit=limit, offset=offset
            )
        )

    def count(self, where: dict | str | None = None, *, params: dict | None = None) -> int:
        return self._db.count(self.table, where, params=params)

    def create(self, data: dict, record_id: str | None = None) -> R:
        """Insert ``data`` as a record (``ConflictError`` if ``record_id`` exists)."""
        body = {self.time_field: now_iso(), **data}
        return self._rec(self._db.insert(self.table, body, id=record_id or new_id()))  # type: ignore[return-value]

    def update(self, record_id: str, data: dict) -> R:
        """Shallow-merge ``data`` into the record; ``NotFoundError`` if it does not exist."""
        return self._rec(self._db.update(self.table, record_id, data))  # type: ignore[return-value]

    def delete(self, record_id: str) -> bool:
        return self._db.delete(self.table, record_id)

    def delete_all(self) -> int:
        """Delete every record of the table in one commit; returns how many."""

        def run(tx: "Transaction") -> int:
            docs = tx.find(self.table)
            for doc in docs:
                tx.delete(self.table, doc["id"])
            return len(docs)

        return self._atomic(run)

    def _delete_older(self, days: float, field: str | None = None) -> int:
        """Delete the records whose timestamp is more than ``days`` days old, in one commit."""
        check_number(days, "days")
        where = f"{field or self.time_field} < :cutoff"
        cutoff = ago_iso(days=days)

        def run(tx: "Transaction") -> int:
            old = tx.find(self.table, where, params={"cutoff": cutoff})
            for doc in old:
                tx.delete(self.table, doc["id"])
            return len(old)

        return self._atomic(run)


# -- checks of bad input -------------------------------------------------------------------
def check_choice(value: Any, allowed: Iterable[str], what: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValidationError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    return value


def check_text(value: Any, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise ValidationError(f"{what} must be a non-empty string, not {value!r}")
    return value


def check_number(value: Any, what: str, *, minimum: float | None = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{what} must be a finite number, not {value!r}")
    if minimum is not None and value < minimum:
        raise ValidationError(f"{what} must be >= {minimum:g}, not {value!r}")
    return value


def check_count(value: Any, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{what} must be an integer >= {minimum}, not {value!r}")
    return value


def check_strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValidationError(f"{what} must be a list of strings, not {value!r}")
    for item in value:
        check_text(item, f"an item of {what}")
    return list(value)


def check_fields(updates: dict, allowed: Iterable[str], what: str) -> None:
    unknown = sorted(set(updates) - set(allowed))
    if unknown:
        raise ValidationError(f"unknown {what} field(s) {', '.join(map(repr, unknown))}")


def check_vector(vector: Any, what: str) -> list[float]:
    """A non-empty list of finite numbers, as floats."""
    if isinstance(vector, (str, bytes)) or not isinstance(vector, (list, tuple)) or not vector:
        raise ValidationError(f"{what} must be a non-empty list of numbers, not {vector!r}")
    return [float(check_number(v, f"an item of {what}", minimum=None)) for v in vector]
