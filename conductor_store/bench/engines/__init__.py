"""Engines: the Store and the raw references, all with the interface of :class:`Engine`."""

from __future__ import annotations

from typing import Any

from .base import Engine
from .files import AppendEngine, Files500Engine, FilesEngine, TinyEngine, tinydb_available
from .sqlite import SqliteEngine
from .store import StoreEngine
from .surreal import SurrealEngine, SurrealLoggedEngine

__all__ = [
    "AppendEngine",
    "Engine",
    "Files500Engine",
    "FilesEngine",
    "SqliteEngine",
    "StoreEngine",
    "SurrealEngine",
    "SurrealLoggedEngine",
    "TinyEngine",
    "engine_from_spec",
    "tinydb_available",
]


def engine_from_spec(spec: dict[str, Any]) -> Engine:
    """The engine a worker process opens from another engine's :meth:`Engine.spec`."""
    kind = spec["kind"]
    if kind == "store":
        return StoreEngine(spec["url"], spec["project"], spec.get("options"))
    if kind == "files":
        return FilesEngine(spec["dir"], spec["fsync"])
    if kind == "sqlite":
        return SqliteEngine(spec["path"], spec["synchronous"])
    if kind == "surreal":
        return SurrealEngine(spec["url"], spec["ns"], spec["database"])
    if kind == "append":
        return AppendEngine(spec["dir"], lock=spec["lock"], own=spec["own"], fsync=spec["fsync"])
    raise ValueError(f"unknown engine kind {kind!r}")
