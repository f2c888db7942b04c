"""How much to measure: sizes, rounds and durations for the default, ``--quick`` and
``--full`` runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

BIG = 100_000  # the size issue 9's figures name (measured with --full)


@dataclass
class Settings:
    records: int = 2000
    rounds: int = 5
    min_round: float = 0.2  # seconds: every timed round is calibrated to last at least this
    query_sizes: tuple[int, ...] = (2000,)
    scales: tuple[int, ...] = (1000, 10000)
    scale_rounds: int = 5
    cold_runs: int = 7
    procs: tuple[int, ...] = (1, 4, 8)
    writer_seconds: float = 1.0
    writer_rounds: int = 2
    prune_periods: bool = True  # Store commit rounds cover whole prune periods (1,000 commits)
    quick: bool = False
    full: bool = False

    @classmethod
    def make(cls, *, records: int | None = None, quick: bool = False, full: bool = False):
        if quick:
            r = records or 200
            s = cls(
                records=r,
                rounds=3,
                min_round=0.02,
                query_sizes=(r,),
                scales=(r, 10 * r),
                scale_rounds=3,
                cold_runs=2,
                procs=(1, 4),
                writer_seconds=0.25,
                writer_rounds=1,
                prune_periods=False,
                quick=True,
            )
        else:
            r = records or 2000
            s = cls(records=r, query_sizes=(r,))
        if full:
            s.full, s.writer_seconds, s.writer_rounds = True, 3.0, 1
            s.scales = tuple(s.scales) + (100 * s.scales[0],)
            s.query_sizes = tuple(dict.fromkeys((*s.query_sizes, BIG)))
        return s

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
