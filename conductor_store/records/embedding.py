"""A built-in text embedding: hashed character n-grams (no model, no download, deterministic).

The text is lower-cased, digits are folded to ``0`` and runs of anything that is not a letter
or digit become one space. Every character 3-, 4- and 5-gram of `` word `` (padded with spaces)
and every word adds a signed weight to one of :data:`DIMENSIONS` buckets chosen by BLAKE2b (so
the result is the same in every process and Python version); the vector is L2-normalised, so
cosine similarity is the dot product. Messages sharing words and word pieces score close to 1,
unrelated ones close to 0: enough to rank a paraphrased error first, not a semantic model.
"""

from __future__ import annotations

import hashlib
import math
import re

from ..backends.base import cosine_similarity

__all__ = ["DIMENSIONS", "MODEL", "cosine_similarity", "embed_text"]
MODEL = "ngram-v1"
DIMENSIONS = 256
_NON_WORD = re.compile(r"[^a-z0-9]+")
_DIGITS = re.compile(r"[0-9]+")


def _bucket(feature: str) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % DIMENSIONS, (1.0 if value >> 63 else -1.0)


def _features(text: str) -> list[tuple[str, float]]:
    words = _NON_WORD.sub(" ", _DIGITS.sub("0", text.lower())).split()
    out: list[tuple[str, float]] = []
    for word in words:
        out.append(("w:" + word, 1.0))
        padded = f" {word} "
        for n in (3, 4, 5):
            out.extend(("c:" + padded[i : i + n], 0.5) for i in range(len(padded) - n + 1))
    return out


def embed_text(text: str) -> list[float]:
    """The embedding of ``text`` (a unit vector of :data:`DIMENSIONS` floats; all zeros for a
    text without letters or digits)."""
    vector = [0.0] * DIMENSIONS
    for feature, weight in _features(text):
        index, sign = _bucket(feature)
        vector[index] += sign * weight
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return vector
    return [round(v / norm, 6) for v in vector]
