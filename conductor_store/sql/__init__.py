"""``store.query(sql, params)``: read-only SQL over one table, the same answer on every backend.

:func:`bind` turns text and params into a :class:`Bound` query (parsed with sqlglot in this
library's dialect, planned, checked, cached); a backend's ``select(bound)`` answers it -- by
default :func:`run` (the Python evaluator) over ``scan``, on SurrealDB by translation to
SurrealQL. The language and its semantics are described in ``docs/query.md``.
"""

from __future__ import annotations

from typing import Any

from ..errors import QueryError
from .bind import Bound, bind
from .evaluate import run

__all__ = ["Bound", "bind", "run", "select", "surrealql"]


def select(reader: Any, text: str, params: dict | None = None) -> list[dict]:
    """``reader.query(text, params)`` for a Store or a Transaction (which sees its writes)."""
    from ..store import Transaction

    bound = bind(text, params)
    if not isinstance(reader, Transaction):
        return reader.backend.select(bound)
    reader._check_open()
    mine = {k[1]: w for k, w in reader._writes.items() if k[0] == bound.table}
    if not mine:
        return reader._backend.select(bound)
    docs = [d for d in reader._backend.scan(bound.table) if d["id"] not in mine]
    docs += [reader._as_doc(w) for w in mine.values() if w.kind != "delete"]
    return run(bound, docs)


def surrealql(reader: Any, text: str, vars: dict | None = None) -> list:
    """Raw SurrealQL through the store's SurrealDB connection."""
    from ..store import Transaction

    if isinstance(reader, Transaction):
        raise QueryError("raw SurrealQL does not run inside a transaction: use store.surrealql")
    backend = reader.backend
    raw = getattr(backend, "surrealql", None)
    if raw is None:
        raise QueryError(f"raw SurrealQL needs a SurrealDB backend; this store uses {backend.name}")
    if not isinstance(text, str) or not text.strip():
        raise QueryError("surrealql needs the SurrealQL text (a non-empty str)")
    if vars is not None and (
        not isinstance(vars, dict) or not all(isinstance(k, str) for k in vars)
    ):
        raise QueryError("vars must be a dict with str keys")
    return raw(text, dict(vars or {}))
