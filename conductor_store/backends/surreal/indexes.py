"""Indexes as SurrealDB ``DEFINE INDEX``: names that carry the spec, and back.

An :class:`IndexSpec` ``(table, ("status", "meta.kind"), unique)`` is the engine's index
``_CS_ix[-u]-status,meta.kind`` on ``table`` (``FIELDS status, meta.kind [UNIQUE]``): the name
holds the whole spec, so :func:`specs` reads the declared indexes back from ``INFO FOR TABLE``
and indexes defined by hand (other names) are left alone. Field paths are validated by the
query layer's rules (segments ``[A-Za-z_][A-Za-z0-9_]*``), so they can be emitted quoted.

The engine serves ``=``, ``IN`` and ranges on an indexed field (``surql.py`` emits them in a
form it recognises); a unique index refuses a second record with the same values (records
missing a field, or holding NULL there, are not constrained), which a commit reports as
``ConflictError``.
"""

from __future__ import annotations

import re

from ...errors import ValidationError
from ..base import IndexSpec

PREFIX = "_CS_ix"
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def name(spec: IndexSpec) -> str:
    return f"{PREFIX}{'-u' if spec.unique else ''}-{','.join(spec.fields)}"


def define(spec: IndexSpec) -> str:
    """``DEFINE INDEX IF NOT EXISTS`` for ``spec`` (the table is defined with it)."""
    if not spec.fields:
        raise ValidationError(f"an index on {spec.table} needs at least one field")
    paths = []
    for path in spec.fields:
        segments = str(path).split(".")
        if not all(_SEGMENT.fullmatch(s) for s in segments):
            raise ValidationError(f"index field {path!r} is not a field path (a.b.c)")
        paths.append(".".join(f"`{s}`" for s in segments))
    return (
        f"DEFINE TABLE IF NOT EXISTS `{spec.table}` SCHEMALESS; "
        f"DEFINE INDEX IF NOT EXISTS `{name(spec)}` ON `{spec.table}` "
        f"FIELDS {', '.join(paths)}{' UNIQUE' if spec.unique else ''};"
    )


def specs(table: str, info: dict) -> list[IndexSpec]:
    """The specs of our indexes among ``INFO FOR TABLE``'s ``indexes``."""
    out = []
    for index in info.get("indexes") or {}:
        if not index.startswith(PREFIX + "-"):
            continue
        rest = index[len(PREFIX) + 1 :]
        unique = rest.startswith("u-")
        fields = rest[2:] if unique else rest
        out.append(IndexSpec(table, tuple(fields.split(",")), unique))
    return out
