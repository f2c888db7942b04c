"""Measurements: ``prepare()``, ``rounds`` × (``reference_round()``, ``store_round()``),
``result()``. The pytest files hand ``store_round`` to ``benchmark.pedantic`` with
``reference_round`` as its per-round setup, so references and Store interleave there too."""

from __future__ import annotations

from typing import Any


class Measurement:
    rounds = 1
    label = "?"
    kind = "?"  # comparisons | scaling | storage (the report list it lands in)
    target: Any = None

    def prepare(self) -> None:
        pass

    def reference_round(self) -> None:
        pass

    def store_round(self) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass
