"""What the LangGraph adapters share: record ids made from composite keys, and typed values
(LangGraph's ``(type, bytes)`` pairs) kept JSON-safe inside documents."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any


def key_id(*parts: Any) -> str:
    """A record id for a composite key of strings and numbers: the same key always gives the
    same id, different keys different ids (sha256), whatever characters the parts hold."""
    text = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def pack(typed: tuple[str, bytes]) -> list:
    """``(type, bytes)`` from a serializer as a JSON value: ``[type, base64 text]``."""
    kind, data = typed
    return [kind, base64.b64encode(data).decode("ascii")]


def unpack(value: list) -> tuple[str, bytes]:
    """The inverse of :func:`pack`."""
    kind, text = value
    return kind, base64.b64decode(text)
