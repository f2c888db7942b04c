"""Rounds that hold still: each round is sized by calibration to last at least
``min_round`` seconds; rates are medians of rounds; ratios are medians of per-round ratios
(each round times the references and the Store back to back)."""

from __future__ import annotations

import statistics
import time
from typing import Callable

Run = Callable[[int], None]  # do n operations


def timed(run: Run, n: int) -> float:
    t0 = time.perf_counter()
    run(n)
    return time.perf_counter() - t0


SLOW_ROUND = 1.0  # seconds: rounds this long need fewer of them (see :func:`rounds_for`)
FEW_ROUNDS = 3


def calibrate(run: Run, min_round: float, start: int = 1, cap: int = 1_000_000) -> int:
    """The number of operations a round needs to last ``min_round`` seconds (the calibrating
    runs double as the warm-up)."""
    return calibrated(run, min_round, start, cap)[0]


def calibrated(
    run: Run, min_round: float, start: int = 1, cap: int = 1_000_000
) -> tuple[int, float]:
    """:func:`calibrate`, also returning how long the last calibrating round took."""
    n = max(1, start)
    while True:
        elapsed = timed(run, n)
        if elapsed >= min_round or n >= cap:
            return n, elapsed
        grow = min_round / elapsed * 1.2 if elapsed > 0 else 10
        n = min(cap, max(n + 1, int(n * min(grow, 10))))


def whole_prune_periods(n: int, took: float) -> tuple[int, float]:
    """``n`` single-record commits (a round that took ``took`` s) rounded up to whole periods
    of the Store's amortised change-log prune (one every ``PRUNE_EVERY_COMMITS`` commits of a
    Store), and the time that round should take: every round then carries the same share of
    that work at every size, instead of one round in a few paying for all of it."""
    from ..retention import PRUNE_EVERY_COMMITS as every

    whole = -(-n // every) * every
    return whole, took * whole / n


def rounds_for(rounds: int, longest: float) -> int:
    """Rounds of a single operation that already lasts over :data:`SLOW_ROUND` (a 100,000-record
    scan) are few enough to keep ``--full`` within its time: at most :data:`FEW_ROUNDS`."""
    return min(rounds, FEW_ROUNDS) if longest > SLOW_ROUND else rounds


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def rate(n: int, seconds: float | None) -> float | None:
    return None if not seconds else n / seconds


def paired_speed_ratio(store: list[float], ref: list[float]) -> float | None:
    """Store speed ÷ reference speed from per-round *rates*: median of the round ratios."""
    pairs = [s / r for s, r in zip(store, ref) if r > 0]
    return statistics.median(pairs) if pairs else None


def short_error(exc: BaseException) -> str:
    """``Type: first line of the message``, at most 300 characters."""
    message = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
