"""The Store alone at several sizes (µs per operation) and how that cost grows."""

from __future__ import annotations

import statistics
import time
from functools import partial
from typing import Any, Callable

from ..engines import Engine
from ..results import Cost, Growth, Scaling
from ..timing import calibrated, median, rounds_for, short_error, whole_prune_periods
from ..workloads import OPS, verify
from . import Measurement

SCALING_OPS = ("get", "find", "count", "update", "insert")


class ScalingRun(Measurement):
    """Rounds alternate between the sizes and growth is the median of per-round ratios, so a
    busy spell of the machine does not pass for growth. The largest size is the "store"
    round (what pytest-benchmark times); the smaller ones run as the per-round setup."""

    kind = "scaling"

    def __init__(
        self,
        *,
        target: Any,
        op: str,
        scales: tuple[int, ...],
        rounds: int,
        min_round: float,
        engine_at: Callable[[int], Engine],
        prune_periods: bool = False,
    ) -> None:
        self.target, self.op, self.scales = target, op, list(scales)
        self.rounds, self.min_round, self.engine_at = rounds, min_round, engine_at
        self.prune_periods = prune_periods and OPS[op].commits
        self.label = f"{target.name}: {op} at {', '.join(f'{x:,}' for x in scales)} records"
        self.times: dict[int, list[float]] = {x: [] for x in self.scales}
        self.n: dict[int, int] = {}
        self.engs: dict[int, Engine] = {}
        self.errors: dict[str, str] = {}

    def prepare(self) -> None:
        run = OPS[self.op].run
        for scale in self.scales:
            try:
                eng = self.engine_at(scale)
                if self.op != "count":
                    verify(eng, self.op, scale)
                self.n[scale], took = calibrated(partial(run, eng), self.min_round)
                if self.prune_periods:
                    self.n[scale], took = whole_prune_periods(self.n[scale], took)
                self.rounds = rounds_for(self.rounds, took)
                self.engs[scale] = eng
            except Exception as exc:  # noqa: BLE001
                self.errors[f"{scale}"] = short_error(exc)

    def _time(self, scale: int) -> None:
        eng = self.engs.get(scale)
        if eng is None:
            return
        try:
            t0 = time.perf_counter()
            OPS[self.op].run(eng, self.n[scale])
            self.times[scale].append((time.perf_counter() - t0) / self.n[scale])
        except Exception as exc:  # noqa: BLE001
            self.errors[f"{scale}"] = short_error(exc)
            del self.engs[scale]

    def reference_round(self) -> None:
        for scale in self.scales[:-1]:
            self._time(scale)

    def store_round(self) -> None:
        self._time(self.scales[-1])

    def result(self) -> Scaling:
        costs = []
        for scale in self.scales:
            med = median(self.times[scale])
            us = None if med is None else 1e6 * med
            costs.append(Cost(scale, self.n.get(scale, 0), us))
        growth = []
        for a, b in zip(self.scales, self.scales[1:]):
            pairs = [y / x for x, y in zip(self.times[a], self.times[b]) if x > 0]
            growth.append(Growth(a, b, statistics.median(pairs) if pairs else None))
        return Scaling(
            self.target.name,
            self.target.family,
            self.op,
            self.rounds,
            costs,
            growth,
            dict(self.errors),
        )
