"""How long the change log keeps changes: the retention policy, decided above the backend.

A :class:`Retention` keeps changes younger than ``max_age`` seconds and/or the newest
``max_commits`` commits (default: 7 days, no count limit). :func:`prune` turns the policy into
a position and calls ``Backend.prune_changes(through)``; the backend forgets the change-log
entries of commits numbered ``<= through`` and keeps the data. The Store applies its policy by
itself, amortised over commits (:class:`Pruner`), and on ``store.prune_changes()``.

A watcher or ``changes(since)`` asking for a position below ``Backend.pruned_through()`` gets
``ChangesPrunedError`` naming the oldest position still kept.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from .backends.base import Backend
from .errors import ChangesPrunedError, ValidationError

log = logging.getLogger("conductor_store.retention")

DAY = 86400.0
#: an amortised prune runs after this many commits through one Store ...
PRUNE_EVERY_COMMITS = 1000
#: ... or on the first commit this long after the previous one (seconds)
PRUNE_EVERY_SECONDS = 600.0
#: changes read per page while finding the position to prune through
_PAGE = 1000


def check_not_pruned(backend: Backend, since: int) -> None:
    """Raise ``ChangesPrunedError`` when the changes after ``since`` are no longer all kept:
    the one check of ``changes(since)`` and of every watcher."""
    pruned = backend.pruned_through()
    if since < pruned:
        raise ChangesPrunedError(
            f"the change log no longer holds the changes after seq {since}: commits up to "
            f"{pruned} were pruned by the retention policy; the oldest position still kept "
            f"is since={pruned} (read the records again, then continue from there)",
            pruned,
        )


def _positive(name: str, value: Any, kind: type) -> None:
    if value is None:
        return
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
    if not ok or value < 0:
        raise ValidationError(f"{name} must be a non-negative number or None, not {value!r}")


@dataclass(frozen=True)
class Retention:
    """Keep changes at most ``max_age`` seconds old and at most the newest ``max_commits``
    commits (None: no limit of that kind; both None: keep everything)."""

    max_age: float | None = 7 * DAY
    max_commits: int | None = None

    def __post_init__(self) -> None:
        _positive("max_age", self.max_age, float)
        _positive("max_commits", self.max_commits, int)

    @property
    def keeps_everything(self) -> bool:
        return self.max_age is None and self.max_commits is None


DEFAULT = Retention()


def implements_pruning(backend: Backend) -> bool:
    """Whether the backend overrides ``prune_changes`` (the default keeps everything)."""
    return type(backend).prune_changes is not Backend.prune_changes


def prune_position(backend: Backend, policy: Retention, now: float | None = None) -> int:
    """The highest seq the policy lets go (``pruned_through()`` when nothing more can).

    By age, commits whose time is at or before ``now - max_age`` go (reading stops at the
    first younger commit, or one without a time); by count, all but the newest
    ``max_commits``. Reads the log from the oldest kept change: O(what goes) for the age
    rule alone, O(what is kept) with a count."""
    start = backend.pruned_through()
    if policy.keeps_everything:
        return start
    now = time.time() if now is None else now
    cutoff = None if policy.max_age is None else now - policy.max_age
    keep = policy.max_commits
    newest: collections.deque[int] = collections.deque(maxlen=1 if keep is None else keep + 1)
    by_age, since, aging = start, start, cutoff is not None
    size = 16  # small first: with the age rule alone, usually the first change is young
    while True:
        page = backend.changes(since, None, size)
        for change in page:
            if aging:
                if change.time is not None and cutoff is not None and change.time <= cutoff:
                    by_age = change.seq
                else:
                    aging = False
            if not newest or newest[-1] != change.seq:
                newest.append(change.seq)
        if len(page) < size or (keep is None and not aging):
            break
        since, size = page[-1].seq, min(size * 4, _PAGE)
    by_count = start
    if keep is not None and len(newest) == keep + 1:
        by_count = newest[0]
    return max(start, by_age, by_count)


def prune(backend: Backend, policy: Retention, now: float | None = None) -> int:
    """Apply ``policy`` now; returns ``backend.pruned_through()`` afterwards."""
    through = prune_position(backend, policy, now)
    if through > backend.pruned_through():
        backend.prune_changes(through)
    return backend.pruned_through()


class Pruner:
    """The amortised prune of one Store: after :data:`PRUNE_EVERY_COMMITS` commits, or on the
    first commit :data:`PRUNE_EVERY_SECONDS` after the last prune (so also on the first commit
    after opening). Never raises: a failure is logged and the commit stands."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commits = 0
        self._last = -math.inf
        self._running = False

    def committed(self, backend: Backend, policy: Retention) -> None:
        if policy.keeps_everything or not implements_pruning(backend):
            return
        with self._lock:
            self._commits += 1
            due = self._commits >= PRUNE_EVERY_COMMITS
            due = due or time.monotonic() - self._last >= PRUNE_EVERY_SECONDS
            if not due or self._running:
                return
            self._running, self._commits, self._last = True, 0, time.monotonic()
        try:
            prune(backend, policy)
        except Exception as exc:  # the commit stands; the next prune tries again
            log.warning("pruning the change log failed: %s", exc)
        finally:
            with self._lock:
                self._running = False
