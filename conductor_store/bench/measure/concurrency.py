"""N writer processes (or N threads of one process) inserting into one location for a few
seconds each round."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from ..engines import Engine, engine_from_spec
from ..procs import child_env, last_line
from ..results import Comparison, Ref
from ..timing import median, paired_speed_ratio, short_error
from . import Measurement


class Concurrency(Measurement):
    """``procs`` processes started together (each opens first, then all get "go"), each
    inserting single records for ``seconds``; total commits/s over the common interval; the
    record count is verified afterwards (no lost writes). With ``threads`` > 1: one process
    whose ``threads`` threads share one Store (``procs`` is then 1)."""

    kind = "comparisons"

    def __init__(
        self,
        *,
        target: Any,
        root: str,
        procs: int,
        seconds: float,
        rounds: int,
        engines: dict[str, Engine],
        threads: int = 1,
    ) -> None:
        self.target, self.root, self.procs, self.threads = target, root, procs, threads
        self.seconds, self.rounds, self.engines = seconds, rounds, engines
        self.label = f"{target.name}: {self._what()}"
        self.specs: dict[str, dict] = {}
        self.labels: dict[str, str] = {}
        self.rates: dict[str, list[float]] = {}
        self.written: dict[str, int] = {}
        self.verified: dict[str, bool] = {}
        self.errors: dict[str, str] = {}

    def _what(self) -> str:
        if self.threads > 1:
            return f"{self.threads} writer threads, one process"
        return f"{self.procs} writer process{'es' if self.procs > 1 else ''}"

    def prepare(self) -> None:
        for name, eng in self.engines.items():
            try:
                eng.setup(0)
                eng.close()
                self.specs[name] = eng.spec()
                self.labels[name] = eng.describe("insert")
                self.rates[name], self.written[name] = [], 0
            except Exception as exc:  # noqa: BLE001
                self.errors[name] = short_error(exc)

    def _round(self, name: str) -> None:
        spec = self.specs.get(name)
        if spec is None:
            return
        try:
            prefix = f"c{len(self.rates[name])}"
            job = dict(spec, threads=self.threads)
            rate, count = run_writers(job, self.procs, self.seconds, prefix, self.root)
            self.rates[name].append(rate)
            self.written[name] += count
        except Exception as exc:  # noqa: BLE001
            self.errors[name] = short_error(exc)
            del self.specs[name]

    def reference_round(self) -> None:
        for name in list(self.specs):
            if name != "store":
                self._round(name)

    def store_round(self) -> None:
        self._round("store")

    def _verify(self) -> None:
        for name, spec in self.specs.items():
            try:
                eng = engine_from_spec(spec)
                eng.open()
                try:
                    found = eng.count_all()
                finally:
                    eng.close()
                self.verified[name] = found == self.written[name]
                if not self.verified[name]:
                    self.errors[name] = (
                        f"lost writes: {found} records, {self.written[name]} written"
                    )
            except Exception as exc:  # noqa: BLE001
                self.errors.setdefault(name, "verify: " + short_error(exc))

    def result(self) -> Comparison:
        self._verify()
        store = self.rates.get("store", [])
        refs = [
            Ref(n, self.labels[n], median(r), paired_speed_ratio(store, r))
            for n, r in self.rates.items()
            if n != "store"
        ]
        return Comparison(
            kind="concurrency",
            target=self.target.name,
            family=self.target.family,
            op="insert" if self.threads == 1 else "insert threads",
            title=self._what(),
            records=0,
            unit="commits/s",
            store=median(store),
            refs=refs,
            rounds=self.rounds,
            procs=self.procs,
            verified=dict(self.verified),
            extra={"seconds": self.seconds},
            errors=dict(self.errors),
        )


def run_writers(spec: dict, procs: int, seconds: float, prefix: str, cwd: str) -> tuple[float, int]:
    """Start ``procs`` workers on ``spec``; once all have opened, let them insert for
    ``seconds``; return (total inserts per second over the common interval, inserts)."""
    workers: list[subprocess.Popen] = []
    timeout = 120 + seconds
    try:
        for k in range(procs):
            job = dict(spec, prefix=f"{prefix}w{k}", seconds=seconds)
            env = child_env(cwd, CONDUCTOR_BENCH_JOB=json.dumps(job))
            cmd = [sys.executable, "-m", "conductor_store.bench.worker"]
            workers.append(
                subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=cwd,
                    env=env,
                )
            )
        deadline = time.monotonic() + timeout
        for w in workers:
            assert w.stdout is not None and w.stderr is not None
            line = w.stdout.readline()
            if line.strip() != "ready":
                w.wait(timeout=max(1.0, deadline - time.monotonic()))
                raise RuntimeError(f"worker failed to open: {last_line(w.stderr.read() or line)}")
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        spans = []
        for w in workers:
            out, err = w.communicate(timeout=max(1.0, deadline - time.monotonic()))
            if w.returncode != 0:
                raise RuntimeError(f"worker exit {w.returncode}: {last_line(err)}")
            spans.append(json.loads(out.strip().splitlines()[-1]))
        count = sum(s["count"] for s in spans)
        elapsed = max(s["t1"] for s in spans) - min(s["t0"] for s in spans)
        return count / elapsed, count
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
