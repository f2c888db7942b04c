"""What a store accumulates: reading recent changes, disk use after many updates, and the
first query after opening a large store."""

from __future__ import annotations

import math
import os
import statistics
import time
from bisect import bisect_right
from typing import Any

from ...urls import split_scheme
from ..data import RARE, expected_eq, make_id
from ..engines import SqliteEngine, StoreEngine
from ..results import Comparison, Ref, Storage
from ..timing import calibrated, median, paired_speed_ratio, rounds_for, short_error
from . import Measurement

RECENT = 100


class ChangesLatency(Measurement):
    """``store.changes(since=last-100)`` on a store whose log holds every load's changes
    plus 100 single-record commits: milliseconds per call."""

    kind = "comparisons"

    LIMIT_MS = 10_000.0  # a call predicted slower than this is not run (see ``predicted``)

    def __init__(
        self,
        *,
        target: Any,
        records: int,
        engine: StoreEngine,
        rounds: int,
        min_round: float,
        predicted: tuple[int, float] | None = None,
    ) -> None:
        self.target, self.records, self.eng = target, records, engine
        self.rounds, self.min_round = rounds, min_round
        self.label = f"{target.name}: changes(since=last-{RECENT}) @ {records:,}"
        self.since = 0
        self.n = 1
        self.times: list[float] = []
        self.errors: dict[str, str] = {}
        self.predicted = predicted  # (changes, ms a call) measured on a smaller log

    def _call(self, n: int) -> None:
        for _ in range(n):
            got = len(self.eng.store.changes(self.since))
            if got != RECENT:
                raise AssertionError(f"changes(since=last-{RECENT}) returned {got} changes")

    def prepare(self) -> None:
        if self.predicted:
            small, ms = self.predicted
            guess = ms * self.records / small  # if the call reads the whole log
            if guess > self.LIMIT_MS:
                self.errors["skipped"] = (
                    f"not run: {ms:,.1f} ms a call at {small:,} changes predicts "
                    f"~{guess / 1000:,.0f} s at {self.records:,} (the cost grows with the log)"
                )
                return
        try:
            seq = None
            for k, i in enumerate(self.eng.sample_ids(RECENT)):
                seq = self.eng.update_seq(make_id(i), {"note": f"recent {k}"})
            if seq is None:
                raise AssertionError("a commit returned no seq")
            self.since = seq - RECENT
            self.n, took = calibrated(self._call, self.min_round)
            self.rounds = rounds_for(self.rounds, took)
        except Exception as exc:  # noqa: BLE001
            self.errors["store"] = short_error(exc)

    def store_round(self) -> None:
        if self.errors:
            return
        t0 = time.perf_counter()
        self._call(self.n)
        self.times.append(1000 * (time.perf_counter() - t0) / self.n)

    def result(self) -> Comparison:
        return Comparison(
            kind="changes",
            target=self.target.name,
            family=self.target.family,
            op="changes",
            title=f"changes(last-{RECENT})",
            records=self.records,
            unit="ms",
            store=median(self.times),
            rounds=self.rounds,
            errors=dict(self.errors),
        )


class StorageGrowth(Measurement):
    """``records`` single-record updates (one commit each), every commit timed (p50, p99,
    p99.9, max and how many took over 50 ms: one disk stall is not a pattern); then the bytes
    of the log's files beside the bytes of the live record files (see :func:`disk_usage`)."""

    kind = "storage"

    def __init__(self, *, target: Any, records: int, engine: StoreEngine) -> None:
        self.target, self.records, self.eng = target, records, engine
        self.label = f"{target.name}: storage after {records:,} updates"
        self.commit_ms: list[float] = []
        self.errors: dict[str, str] = {}

    def store_round(self) -> None:
        try:
            for k, i in enumerate(self.eng.sample_ids(self.records)):
                t0 = time.perf_counter()
                self.eng.update(make_id(i), {"owner": f"agent-{k % 11}", "round": k})
                self.commit_ms.append(1000 * (time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001
            self.errors["store"] = short_error(exc)

    def result(self) -> Storage:
        out = Storage(self.target.name, self.target.family, self.records, len(self.commit_ms))
        out.errors = dict(self.errors)
        ms = sorted(self.commit_ms)
        if ms:
            out.p50_commit_ms, out.p99_commit_ms, out.p999_commit_ms = (
                percentile(ms, q) for q in (0.5, 0.99, 0.999)
            )
            out.max_commit_ms = ms[-1]
            out.slow_commits = len(ms) - bisect_right(ms, out.slow_ms)
        try:
            usage = disk_usage(self.eng)
            if usage is not None:
                out.disk_bytes, out.live_bytes, out.log_bytes, out.log_files = usage
        except OSError as exc:
            out.errors["disk"] = short_error(exc)
        return out


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of an ascending, non-empty list."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def disk_usage(eng: StoreEngine) -> tuple[int, int, int, int] | None:
    """Sizes in bytes of a JSON store's project: (every file, the record files -- those in
    its table folders --, the files in ``.meta/log`` and below it whatever their names, how
    many of those);
    None for a backend that is not JSON files."""
    scheme, path = split_scheme(eng.url)
    if scheme != "json":
        return None
    root = os.path.join(path, eng.project)
    log_dir = os.path.join(root, ".meta", "log")
    total = live = log = files = 0
    for folder, _, names in os.walk(root):
        sizes = [os.path.getsize(os.path.join(folder, n)) for n in names]
        total += sum(sizes)
        top = os.path.relpath(folder, root).split(os.sep)[0]
        if folder == log_dir or folder.startswith(log_dir + os.sep):
            log, files = log + sum(sizes), files + len(sizes)
        elif top != "." and not top.startswith("."):
            live += sum(sizes)
    return total, live, log, files


class FirstFind(Measurement):
    """Open the loaded store anew and run one selective ``find`` (the reader cache built
    from disk), beside a new sqlite3 connection doing the same indexed query."""

    kind = "comparisons"

    def __init__(
        self, *, target: Any, records: int, engine: StoreEngine, sqlite_path: str, rounds: int
    ) -> None:
        self.target, self.records, self.eng, self.rounds = target, records, engine, rounds
        self.sqlite_path = sqlite_path
        self.label = f"{target.name}: first find after open @ {records:,}"
        self.times: dict[str, list[float]] = {"store": [], "sqlite-idx": []}
        self.errors: dict[str, str] = {}

    def _once(self, name: str) -> None:
        if name in self.errors:
            return
        e = self.eng
        fresh = StoreEngine(e.url, e.project, e.options) if name == "store" else None
        eng = fresh or SqliteEngine(self.sqlite_path, indexed=True)
        try:
            t0 = time.perf_counter()
            eng.open()
            got = eng.find_eq(RARE)
            self.times[name].append(time.perf_counter() - t0)
            if got != expected_eq(self.records):
                raise AssertionError(f"first find returned {got} records")
        except Exception as exc:  # noqa: BLE001
            self.errors[name] = short_error(exc)
        finally:
            eng.close()

    def reference_round(self) -> None:
        self._once("sqlite-idx")

    def store_round(self) -> None:
        self._once("store")

    def result(self) -> Comparison:
        speed = {n: [1 / t for t in ts] for n, ts in self.times.items()}
        ms = {n: (None if not ts else 1000 * statistics.median(ts)) for n, ts in self.times.items()}
        ratio = paired_speed_ratio(speed["store"], speed["sqlite-idx"])
        ref = Ref("sqlite-idx", "sqlite3 open+idx", ms["sqlite-idx"], ratio)
        return Comparison(
            kind="first-find",
            target=self.target.name,
            family=self.target.family,
            op="first-find",
            title="open + first find",
            records=self.records,
            unit="ms",
            store=ms["store"],
            refs=[ref],
            rounds=self.rounds,
            errors=dict(self.errors),
        )
