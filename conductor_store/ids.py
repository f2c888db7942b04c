"""Sortable unique ids (ULID layout: 48-bit milliseconds + 80 random bits, Crockford base32).

Ids made by one process are strictly increasing, even within one millisecond, so sorting
records by id sorts them by creation time.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = 0  # the previous id, as a 128-bit integer


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id() -> str:
    """Return a new 26-character id that sorts after every id this process made before."""
    global _last
    now_ms = time.time_ns() // 1_000_000
    value = (now_ms << 80) | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if value <= _last:  # same millisecond (or a clock step back): count up
            value = _last + 1
        _last = value
    return _encode(value)
