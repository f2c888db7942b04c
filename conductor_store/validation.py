"""The rules for table names, ids, projects and documents, checked before anything is written."""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

from .errors import ValidationError

TABLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,63}")
ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
PROJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
RESERVED = ("id", "_version")
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 64


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_table(table: Any) -> str:
    if not isinstance(table, str) or not TABLE_RE.fullmatch(table):
        raise ValidationError(
            f"invalid table name {_show(table)}: table names match [a-z_][a-z0-9_]* "
            "and are at most 64 characters"
        )
    return table


def check_id(record_id: Any) -> str:
    if not isinstance(record_id, str) or not ID_RE.fullmatch(record_id) or record_id in (".", ".."):
        raise ValidationError(
            f"invalid id {_show(record_id)}: ids are 1-128 characters of letters, digits "
            "and _ - . : (and never '.' or '..')"
        )
    return record_id


def check_project(project: Any) -> str:
    if not isinstance(project, str) or not PROJECT_RE.fullmatch(project):
        raise ValidationError(
            f"invalid project {_show(project)}: projects are 1-64 characters of letters, "
            "digits, _ and -, starting with a letter or digit"
        )
    return project


def string_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored on every backend alike (a NUL character, or a lone
    surrogate that has no UTF-8 form), or None when it can."""
    if "\x00" in text:
        return "contains a NUL character (\\x00)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"contains a lone surrogate ({text[error.start]!r}), which has no UTF-8 form"
    return None


def _copy_value(value: Any, where: str, depth: int) -> Any:
    """Return a private copy of a JSON value, or raise naming the offending place."""
    if isinstance(value, str):
        problem = string_problem(value)
        if problem:
            raise ValidationError(f"{where}: string {_show(value)} {problem}")
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise ValidationError(f"{where}: integer {value} does not fit in 64 bits")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where}: {value!r} is not a JSON number (NaN/Infinity)")
        return float(value)
    if depth >= MAX_DEPTH:
        raise ValidationError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{where}: key {_show(key)} is not a string")
            problem = string_problem(key)
            if problem:
                raise ValidationError(f"{where}: key {_show(key)} {problem}")
            out[key] = _copy_value(item, f"{where}.{key}", depth + 1)
        return out
    if isinstance(value, list):
        return [_copy_value(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise ValidationError(
        f"{where}: {type(value).__name__} value {_show(value)} is not a JSON type "
        "(use dict, list, str, int, float, bool or None)"
    )


def check_doc(doc: Any, record_id: str | None = None) -> tuple[dict, int | None]:
    """Validate ``doc`` and return ``(private copy without id/_version, expected version)``.

    ``id`` in the document must agree with ``record_id``. ``_version``, when present, must be a
    positive integer: it is the version the caller expects the record to have (compare-and-set).
    """
    if not isinstance(doc, dict):
        raise ValidationError(
            f"a document must be a JSON object (dict), not {type(doc).__name__} {_show(doc)}"
        )
    body = _copy_value(doc, "document", 0)
    doc_id = body.pop("id", None)
    if doc_id is not None and doc_id != record_id:
        raise ValidationError(
            f"document field 'id' is {_show(doc_id)} but the call is for id {_show(record_id)}"
        )
    expected = body.pop("_version", None)
    if expected is not None and (
        isinstance(expected, bool) or not isinstance(expected, int) or expected < 1
    ):
        raise ValidationError(
            f"document field '_version' is {_show(expected)}: it must be a positive integer "
            "(the version you expect the record to have)"
        )
    return body, expected


def copy_json(value: Any) -> Any:
    """A fast deep copy for values already known to be JSON (dicts, lists and scalars)."""
    if isinstance(value, dict):
        return {k: copy_json(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def check_options(options: dict, known: Iterable[str], where: str) -> None:
    """Refuse option names outside ``known`` with a ValidationError listing the known ones
    (``where`` names the backend, e.g. ``"the JSON backend"``). The one check every backend's
    ``open_backend`` uses for its keyword options."""
    known = sorted(known)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValidationError(
            f"unknown option(s) for {where}: {', '.join(unknown)} (known: {', '.join(known)})"
        )
