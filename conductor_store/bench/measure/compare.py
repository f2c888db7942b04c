"""The Store beside its references on one workload: calibrated rounds, paired ratios."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from ..data import make_id
from ..engines import Engine
from ..results import Comparison, Ref
from ..timing import (
    calibrated,
    median,
    paired_speed_ratio,
    rounds_for,
    short_error,
    whole_prune_periods,
)
from ..workloads import Workload, verify
from . import Measurement

# the reference a check compares with runs last, right before the Store's round
_ORDER = {"raw": 0, "raw-idx": 1, "sqlite": 2, "sqlite-idx": 3, "tinydb": 4}


class Compare(Measurement):
    """``engines``: name -> engine, ``"store"`` among them, all loaded with ``records``."""

    kind = "comparisons"

    def __init__(
        self,
        *,
        target: Any,
        workload: Workload,
        kind: str,
        records: int,
        engines: dict[str, Engine],
        errors: dict[str, str],
        rounds: int,
        min_round: float,
        prune_periods: bool = False,
    ) -> None:
        self.target, self.w, self.ckind, self.records = target, workload, kind, records
        self.engines, self.errors = dict(engines), dict(errors)
        self.rounds, self.min_round = rounds, min_round
        self.prune_periods = prune_periods and workload.commits
        self.label = f"{target.name}: {workload.title} @ {records:,}"
        self.n: dict[str, int] = {}
        self.rates: dict[str, list[float]] = {}
        self.extra: dict[str, float | None] = {}
        self.labels = {name: eng.describe(workload.name) for name, eng in engines.items()}

    def prepare(self) -> None:
        for name in list(self.engines):
            eng = self.engines[name]
            if self.w.name not in eng.ops:
                del self.engines[name]
                continue
            try:
                verify(eng, self.w.name, self.records)
                if self.w.name == "get":
                    self.extra[f"first pass: {name}"] = _first_pass(eng)
                self.n[name], took = calibrated(partial(self.w.run, eng), self.min_round)
                if name == "store" and self.prune_periods:
                    self.n[name], took = whole_prune_periods(self.n[name], took)
                self.rounds = rounds_for(self.rounds, took)
                self.rates[name] = []
            except Exception as exc:  # noqa: BLE001 -- reported, the run goes on
                self.errors[name] = short_error(exc)
                del self.engines[name]

    def _time(self, name: str) -> None:
        eng = self.engines.get(name)
        if eng is None:
            return
        try:
            t0 = time.perf_counter()
            self.w.run(eng, self.n[name])
            elapsed = time.perf_counter() - t0
            self.rates[name].append(self.n[name] * self.w.items / elapsed)
        except Exception as exc:  # noqa: BLE001
            self.errors[name] = short_error(exc)
            del self.engines[name]

    def reference_round(self) -> None:
        for name in sorted(self.engines, key=lambda n: _ORDER.get(n, 9)):
            if name != "store":
                self._time(name)

    def store_round(self) -> None:
        self._time("store")

    def result(self) -> Comparison:
        store = self.rates.get("store", [])
        refs = [
            Ref(name, self.labels[name], median(rates), paired_speed_ratio(store, rates))
            for name, rates in self.rates.items()
            if name != "store"
        ]
        return Comparison(
            kind=self.ckind,
            target=self.target.name,
            family=self.target.family,
            op=self.w.name,
            title=self.w.title,
            records=self.records,
            unit=self.w.unit,
            store=median(store),
            refs=refs,
            rounds=self.rounds,
            extra=self.extra,
            errors=self.errors,
        )


def _first_pass(eng: Engine) -> float:
    """One pass over every loaded record (the rate of first reads since open, cache misses);
    afterwards the timed rounds see the steady state."""
    count = max(eng.loaded, 1)
    t0 = time.perf_counter()
    for i in eng.sample_ids(count):
        eng.get(make_id(i))
    return count / (time.perf_counter() - t0)
