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
import re
from typing import TYPE_CHECKING, Callable, Union

from ..errors import ValidationError
from ..validation import check_options, copy_json

if TYPE_CHECKING:
    from .base import Backend

__all__ = ["ENTRY_POINT_GROUP", "check_options", "copy_json", "lookup", "register", "schemes"]

Factory = Callable[..., "Backend"]

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


_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*")


def register(scheme: str, factory: Union[str, Factory], *, replace: bool = False) -> None:
    """Make ``scheme://...`` URLs open through ``factory`` (a callable or ``"module:attr"``).

    A scheme already taken (built in, registered, or declared by an entry point) is refused
    with ``ValidationError`` unless ``replace=True``; registering the same factory again is a
    no-op."""
    if not isinstance(scheme, str) or not _SCHEME.fullmatch(scheme.lower()):
        raise ValidationError(f"invalid URL scheme {scheme!r}: schemes match [a-z][a-z0-9+.-]*")
    scheme = scheme.lower()
    _load_entry_points()
    current = _registry.get(scheme)
    if current is not None and current != factory and not replace:
        raise ValidationError(
            f"URL scheme {scheme!r} is already registered (to {_describe(current)}); "
            "pass replace=True to replace it"
        )
    _registry[scheme] = factory


def _describe(factory: Union[str, Factory]) -> str:
    if isinstance(factory, str):
        return factory
    return f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', factory)}"


def schemes() -> list[str]:
    """Every URL scheme that can be opened, sorted."""
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


def lookup(scheme: str, url: str | None = None) -> Factory:
    """Return the factory for ``scheme``; ``ValidationError`` (a ``ValueError``) listing the
    known schemes if none (naming ``url``, which must already be shown without its password)."""
    scheme = scheme.lower()
    if scheme not in _registry:
        _load_entry_points()
    target = _registry.get(scheme)
    if target is None:
        where = f" in {url!r}" if url is not None else ""
        raise ValidationError(
            f"unknown URL scheme {scheme!r}{where}; known schemes: "
            + ", ".join(f"{s}://" for s in schemes())
            + " (or a plain filesystem path for JSON files)"
        )
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        _registry[scheme] = target
    return target
