"""The errors conductor-store raises. Every one of them is a :class:`StoreError`."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error this library raises on purpose."""


class NotFoundError(StoreError, KeyError):
    """The record asked for does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConflictError(StoreError):
    """The id already exists, or a record changed under a transaction that depended on it."""


class ValidationError(StoreError, ValueError):
    """A table name, id, project, document or option breaks a rule; nothing was written."""


class CommitUnknownError(StoreError):
    """A commit was sent but its outcome could not be learnt (e.g. the server's reply was lost
    and it could not be asked again): it may or may not have been applied. Read the records it
    wrote (or ``changes()``) to find out; never blindly retry a non-idempotent commit."""


class ChangesPrunedError(StoreError):
    """The change log no longer holds the position asked for; ``oldest`` is the lowest seq a
    caller may still ask for (``changes(since=oldest)``)."""

    def __init__(self, message: str, oldest: int) -> None:
        super().__init__(message)
        self.oldest = oldest


class QueryError(StoreError, ValueError):
    """A ``where`` / ``order_by`` uses a construct the portable query layer does not support."""


class BackendUnavailableError(StoreError):
    """The backend cannot be reached or opened (bad URL, server down, bad credentials, locked)."""


class CorruptRecordError(StoreError):
    """A record on disk cannot be read back; ``path`` names where it lives."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
