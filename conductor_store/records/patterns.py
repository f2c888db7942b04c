"""Error patterns, shared across projects, found again by similarity.

They live in the project :data:`SHARED_PROJECT` of the store's location (the seed's "shared
patterns DB"), so every project's ``store.errors`` sees the same patterns; each pattern keeps
the project that recorded it. ``find_similar`` ranks by cosine similarity through
``Store.nearest`` (a backend may push it down).
"""

from __future__ import annotations

from typing import Any, Sequence

from ..ids import new_id
from ._base import Repository, check_count, check_number, check_text, check_vector
from .embedding import MODEL, embed_text
from .models import ErrorMatch, ErrorPattern
from .timeutil import now_iso

CALLER_MODEL = "caller"


class ErrorPatternRepository(Repository[ErrorPattern]):
    """``store.errors`` (table ``error_patterns`` of the shared project)."""

    table = "error_patterns"
    record = ErrorPattern

    def __init__(self, store: Any, tx: Any = None, *, origin: str | None = None) -> None:
        super().__init__(store, tx)
        self._origin = origin or store.project

    def using(self, tx: Any) -> "ErrorPatternRepository":
        """Join ``tx`` -- a transaction of the store the patterns live in (the shared one)."""
        return ErrorPatternRepository(self._store, tx, origin=self._origin)

    def record_error(
        self,
        task_id: str | None,
        error_type: str,
        error_message: str,
        context: dict | None = None,
        solution: str | None = None,
        embedding: list[float] | None = None,
    ) -> ErrorPattern:
        """Remember an error (and its solution). Without ``embedding`` the built-in text
        embedding of ``error_type: error_message`` is stored."""
        check_text(error_type, "error_type")
        check_text(error_message, "error_message")
        if embedding is None:
            vector, model = embed_text(f"{error_type}: {error_message}"), MODEL
        else:
            vector, model = check_vector(embedding, "embedding"), CALLER_MODEL
        doc = {
            "task_id": task_id,
            "error_type": error_type,
            "error_message": error_message,
            "error_context": context or {},
            "solution": solution,
            "embedding": vector,
            "embedding_model": model,
            "project": self._origin,
            "created_at": now_iso(),
        }
        return self._rec(self._db.insert(self.table, doc, id=new_id()))  # type: ignore[return-value]

    def find_similar(
        self,
        text_or_embedding: str | Sequence[float],
        *,
        limit: int = 5,
        min_score: float = 0.0,
        error_type: str | None = None,
    ) -> list[ErrorMatch]:
        """The ``limit`` most similar patterns with a score >= ``min_score``, best first. A
        text is compared (built-in embedding) with patterns stored with the built-in one; a
        vector with those stored with a caller's embedding of the same length."""
        check_count(limit, "limit", minimum=1)
        check_number(min_score, "min_score", minimum=-1.0)
        if isinstance(text_or_embedding, str):
            vector, where = embed_text(text_or_embedding), {"embedding_model": MODEL}
        else:
            vector = check_vector(text_or_embedding, "text_or_embedding")
            where = {"embedding_model": CALLER_MODEL}
        if error_type is not None:
            where["error_type"] = error_type
        found = self._store.nearest(self.table, "embedding", vector, limit, where=where)
        return [
            ErrorMatch(ErrorPattern.from_doc(doc), score)
            for doc, score in found
            if score >= min_score
        ]

    def get_by_type(self, error_type: str, limit: int = 100) -> list[ErrorPattern]:
        """Newest first."""
        where = {"error_type": error_type}
        return self._recs(self._db.find(self.table, where, order_by="-created_at", limit=limit))

    def get_by_task(self, task_id: str) -> list[ErrorPattern]:
        """Oldest first."""
        where = {"task_id": task_id}
        return self._recs(self._db.find(self.table, where, order_by="created_at"))

    def set_solution(self, pattern_id: str, solution: str) -> ErrorPattern:
        check_text(solution, "solution")
        return self.update(pattern_id, {"solution": solution})
