"""The backend registry: URL scheme -> factory.

A factory is called as ``factory(url, project=..., **options)`` and returns a
:class:`~conductor_store.backends.base.Backend`. Built-in backends are named by dotted path so
that nothing heavy (``surrealdb`` takes ~0.4 s to import) loads until its URL is opened.
Third-party packages add schemes through the entry-point group ``conductor_store.backends``::

    [project.entry-points."conductor_store.backends"]
    redis = "my_package.backend:open_backend"
"""

from __future__ import annotations

import importlib
from typing import Callable, Union

from ..validation import copy_json

__all__ = ["ENTRY_POINT_GROUP", "copy_json", "lookup", "register", "schemes"]

Factory = Callable[..., "Backend"]  # noqa: F821

_BUILTIN: dict[str, str] = {
    "json": "conductor_store.backends.jsonfiles:open_backend",
    "mem": "conductor_store.backends.surreal:open_backend",
    "memory": "conductor_store.backends.surreal:open_backend",
    "surrealkv": "conductor_store.backends.surreal:open_backend",
    "file": "conductor_store.backends.surreal:open_backend",
    "ws": "conductor_store.backends.surreal:open_backend",
    "wss": "conductor_store.backends.surreal:open_backend",
}
_registry: dict[str, Union[str, Factory]] = dict(_BUILTIN)
_entry_points_loaded = False

ENTRY_POINT_GROUP = "conductor_store.backends"


def register(scheme: str, factory: Union[str, Factory]) -> None:
    """Make ``scheme://...`` URLs open through ``factory`` (a callable or ``"module:attr"``)."""
    _registry[scheme.lower()] = factory


def schemes() -> list[str]:
    _load_entry_points()
    return sorted(_registry)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _registry.setdefault(ep.name.lower(), ep.value)


def lookup(scheme: str) -> Factory:
    """Return the factory for ``scheme``; ``ValueError`` listing the known schemes if none."""
    scheme = scheme.lower()
    if scheme not in _registry:
        _load_entry_points()
    target = _registry.get(scheme)
    if target is None:
        raise ValueError(
            f"unknown URL scheme {scheme!r}; known schemes: "
            + ", ".join(f"{s}://" for s in schemes())
            + " (or a plain filesystem path for JSON files)"
        )
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        _registry[scheme] = target
    return target
