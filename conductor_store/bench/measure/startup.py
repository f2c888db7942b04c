"""Fresh processes: ``import conductor_store`` + open + first ``get``, and ``--help``."""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any

from ..data import make_id
from ..engines import Engine, StoreEngine
from ..procs import help_command, run_timed
from ..results import Comparison, Ref
from ..timing import paired_speed_ratio, short_error
from . import Measurement


class ColdStart(Measurement):
    """New process: ``import conductor_store``, open, first ``get`` -- beside each raw
    engine's own cold read and a bare ``python -c pass``. Wall time of the whole process."""

    kind = "comparisons"

    def __init__(
        self,
        *,
        target: Any,
        root: str,
        records: int,
        rounds: int,
        store: StoreEngine,
        refs: dict[str, Engine],
    ) -> None:
        self.target, self.root, self.records, self.rounds = target, root, records, rounds
        self.label = f"{target.name}: cold start"
        self.store, self.refs = store, refs
        self.codes: dict[str, str] = {}
        self.labels: dict[str, str] = {"python": "python -c pass"}
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, str] = {}

    def prepare(self) -> None:
        probe = make_id(self.records // 2)
        for name, eng in [("store", self.store), *self.refs.items()]:
            try:
                eng.setup(self.records)
                eng.close()
                code = eng.cold_code(probe)
            except Exception as exc:  # noqa: BLE001
                self.errors[name] = short_error(exc)
                continue
            if code is not None:
                must_find = name != "store" or self.target.persistent
                self.codes[name] = code + (
                    "assert d is not None, 'no record'\n" if must_find else ""
                )
                self.labels[name] = eng.describe("get")
        self.codes["python"] = "pass"
        for name in list(self.codes):  # one untimed warm-up run (caches)
            self._time(name, keep=False)
        self.times = {name: [] for name in self.codes}

    def _time(self, name: str, keep: bool = True) -> None:
        code = self.codes.get(name)
        if code is None:
            return
        try:
            t = run_timed([sys.executable, "-c", code], self.root, url=self.store.url)
            if keep:
                self.times[name].append(t)
        except Exception as exc:  # noqa: BLE001
            self.errors[name] = short_error(exc)
            del self.codes[name]

    def reference_round(self) -> None:
        for name in self.codes:
            if name != "store":
                self._time(name)

    def store_round(self) -> None:
        self._time("store")

    def result(self) -> Comparison:
        return startup_result(self, "cold start (import, open, get)", self.records)


def startup_result(m: Any, title: str, records: int) -> Comparison:
    ms = {n: 1000 * statistics.median(ts) for n, ts in m.times.items() if ts}
    speed = {n: [1 / t for t in ts] for n, ts in m.times.items()}
    store = speed.get("store", [])
    refs = [
        Ref(n, m.labels.get(n, n), ms.get(n), paired_speed_ratio(store, speed[n]))
        for n in m.times
        if n != "store"
    ]
    return Comparison(
        kind="startup",
        target=m.target.name,
        family=m.target.family,
        op="cold" if records else "help",
        title=title,
        records=records,
        unit="ms",
        store=ms.get("store"),
        refs=refs,
        rounds=m.rounds,
        errors=dict(m.errors),
    )


class HelpStartup(Measurement):
    """``conductor-store --help`` in a new process, beside ``python -c pass``."""

    kind = "comparisons"

    def __init__(self, *, target: Any, root: str, rounds: int) -> None:
        self.target, self.root, self.rounds = target, root, rounds
        self.label = "conductor-store --help"
        self.cmd = help_command()
        self.labels = {"python": "python -c pass"}
        self.times: dict[str, list[float]] = {"store": [], "python": []}
        self.errors: dict[str, str] = {}

    def prepare(self) -> None:
        try:
            run_timed(self.cmd, self.root)
        except Exception as exc:  # noqa: BLE001
            self.errors["store"] = short_error(exc)

    def reference_round(self) -> None:
        self.times["python"].append(run_timed([sys.executable, "-c", "pass"], self.root))

    def store_round(self) -> None:
        if "store" in self.errors:
            return
        try:
            self.times["store"].append(run_timed(self.cmd, self.root))
        except Exception as exc:  # noqa: BLE001
            self.errors["store"] = short_error(exc)

    def result(self) -> Comparison:
        name = os.path.basename(self.cmd[0]) if self.cmd[0] != sys.executable else "python -m"
        return startup_result(self, f"{name} --help", 0)
