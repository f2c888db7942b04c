"""One retry policy for every place that waits and tries again.

``Store.atomic``, the async ``atomic``, the SurrealDB transports and the JSON backend's lock
wait all pause between attempts the same way: jittered exponential back-off, capped, bounded by
a number of attempts and optionally by a deadline.

>>> policy = RetryPolicy(attempts=3, base=0.001, cap=0.1)
>>> len(list(policy.delays()))
3
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Iterator


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
