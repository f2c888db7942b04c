"""One retry policy for every place that waits and tries again.

``Store.atomic``, the async ``atomic``, the SurrealDB transports and the JSON backend's lock
wait all pause between attempts the same way: jittered exponential back-off, capped, bounded by
a number of attempts and optionally by a deadline.

>>> policy = RetryPolicy(attempts=3, base=0.001, cap=0.1)
>>> len(list(policy.delays()))
3
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from typing import Iterator

from .errors import ConflictError, ValidationError


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` retries at most (None: until ``deadline``), the n-th pausing about
    ``base * 2**n`` seconds, never more than ``cap``, scaled by a random factor in
    ``[1 - jitter/2, 1 + jitter/2)``; ``deadline`` (seconds, None: none) ends the retries once
    that much time has passed since :meth:`delays` was called."""

    attempts: int | None = 10
    base: float = 0.001
    cap: float = 0.1
    jitter: float = 1.0
    deadline: float | None = None

    def delays(self) -> Iterator[float]:
        """One pause (seconds) per allowed retry; stops when attempts or the deadline run out."""
        start = time.monotonic()
        delay = self.base
        n = 0
        while self.attempts is None or n < self.attempts:
            pause = delay * (1 - self.jitter / 2 + self.jitter * random.random())
            if self.deadline is not None:
                left = self.deadline - (time.monotonic() - start)
                if left <= 0:
                    return
                pause = min(pause, left)
            yield pause
            n += 1
            delay = min(delay * 2, self.cap)


#: what ``atomic()`` does by default: retry conflicts for up to 10 s, pausing 1-50 ms
ATOMIC_POLICY = RetryPolicy(attempts=None, base=0.001, cap=0.05, jitter=1.0, deadline=10.0)


class Attempts:
    """The retry loop of one ``atomic()`` call, shared by :meth:`Store.atomic` and the asyncio
    facade's ``atomic``: it counts the attempts and paces them by a :class:`RetryPolicy`.

    A first attempt runs at once; retries (:attr:`queued`) run one at a time per store in a
    process (a local queue), so that contenders of one process stop colliding with each
    other and only the back-off spreads them against other processes."""

    def __init__(self, policy: RetryPolicy | None = None, retries: int | None = None) -> None:
        policy = policy or ATOMIC_POLICY
        if retries is not None:
            if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
                raise ValidationError(f"retries must be an integer >= 0, not {retries!r}")
            policy = dataclasses.replace(policy, attempts=retries)
        self._delays: Iterator[float] = policy.delays()
        self._start = time.monotonic()
        self.count = 0

    @property
    def queued(self) -> bool:
        """Whether the next attempt is a retry, to run in its turn."""
        return self.count > 0

    def pause_after(self, error: ConflictError, final: bool = False) -> float:
        """Count a failed attempt; return how long to pause before the next one, or raise a
        ``ConflictError`` saying how many attempts took how long when no retry is left. A
        ``final`` conflict (one that no retry can avoid) is raised as it is, at once."""
        if final:
            raise error
        self.count += 1
        pause = next(self._delays, None)
        if pause is None:
            spent = time.monotonic() - self._start
            raise ConflictError(
                f"atomic() gave up after {self.count} attempt{'s' if self.count > 1 else ''} "
                f"in {spent:.2f} s: {error}"
            ) from error
        return pause
