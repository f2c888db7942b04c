"""Watching the change log: ``Store.watch`` (an iterator) and ``Store.subscribe`` (callbacks).

Everything here is built on two things every backend has -- ``Backend.changes(since)`` and the
commit numbers -- so it works the same on every backend, across processes, and resumes exactly:
a watcher remembers the seq of the last commit it delivered and asks for the changes after it.

Waking up without burning a core:

* a backend that names a file or directory that changes on every commit
  (``Backend.change_signal_path()``) is waited on with inotify where the platform has it
  (:mod:`conductor_store._inotify`), with a check every second as a safety net;
* otherwise ``Backend.wait_for_commit()``, whose default (:func:`poll_for_commit`) wakes at once
  for commits made through any store of this process on the same location (the Store signals
  them, see :func:`notify_commit`) and polls the log for other processes' commits: every 1 ms
  at first, backing off to :data:`MAX_POLL` while nothing happens.

Delivery is by whole commits: a batch never ends in the middle of one commit's changes, so
resuming with the seq of the last change delivered repeats and loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from . import _inotify
from .backends.base import Backend, Change
from .errors import ChangesPrunedError, StoreError, ValidationError
from .retention import check_not_pruned
from .retry import RetryPolicy
from .validation import check_table

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger("conductor_store.watch")

#: the longest pause of the default poll while nothing happens (seconds)
MAX_POLL = 0.1
#: the first pause of the default poll (seconds); it doubles up to MAX_POLL
MIN_POLL = 0.001
#: with inotify, the log is also checked this often in case an event was missed (seconds)
INOTIFY_SAFETY = 1.0
#: changes read per batch (whole commits are always kept together)
BATCH = 1000
#: the longest single wait of a watcher without a timeout: it then checks that its store is
#: still open (for backends that keep answering after close) and waits again
WAIT_SLICE = 5.0

# -- in-process commit signals ---------------------------------------------------------------


class _Signal:
    """Counts the commits made in this process on one location; waiters block on it."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.generation = 0

    def notify(self) -> None:
        with self.cond:
            self.generation += 1
            self.cond.notify_all()


_signals: dict[tuple, _Signal] = {}
_signals_lock = threading.Lock()


def signal_for(backend: Backend) -> _Signal:
    """The commit signal of ``backend``'s location in this process (one per location)."""
    key = (type(backend).__module__, type(backend).__qualname__, backend.url)
    with _signals_lock:
        signal = _signals.get(key)
        if signal is None:
            signal = _signals[key] = _Signal()
        return signal


def notify_commit(backend: Backend) -> None:
    """Wake this process's watchers of ``backend``'s location (called by the Store after
    each commit; also used to wake a watcher being closed). A false alarm for watchers of
    another project at the same location costs them one read."""
    signal_for(backend).notify()


def _peek(backend: Backend, after_seq: int) -> bool:
    return bool(backend.changes(after_seq, None, 1))


def poll_for_commit(
    backend: Backend,
    after_seq: int,
    timeout: float,
    stop: Callable[[], bool] | None = None,
) -> bool:
    """The default of ``Backend.wait_for_commit``: True when a commit numbered above
    ``after_seq`` is visible or this process signalled one, False after ``timeout`` seconds
    (or as soon as ``stop()`` says so, checked before each poll)."""
    signal = signal_for(backend)
    deadline = time.monotonic() + timeout
    pause = MIN_POLL
    with signal.cond:
        seen = signal.generation
    while True:
        if stop is not None and stop():
            return False
        if _peek(backend, after_seq):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        with signal.cond:
            if signal.generation == seen:
                signal.cond.wait(min(pause, left))
            if signal.generation != seen:
                return True
        pause = min(pause * 2, MAX_POLL)


# -- positions -------------------------------------------------------------------------------


def head_seq(backend: Backend) -> int:
    """The number of the last commit (0: none), found with O(log n) one-change reads."""
    lo = backend.pruned_through()
    first = backend.changes(lo, None, 1)
    if not first:
        return lo
    lo, step = first[0].seq, 64  # invariant: lo <= head
    while True:
        probe = backend.changes(lo + step, None, 1)
        if not probe:
            hi = lo + step  # head <= hi
            break
        lo, step = probe[0].seq, step * 8
    while lo < hi:
        mid = (lo + hi) // 2
        probe = backend.changes(mid, None, 1)
        if probe:
            lo = probe[0].seq
        else:
            hi = mid
    return lo


def _check_since(since: Any) -> int | None:
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise ValidationError(f"since must be a non-negative integer or None, not {since!r}")
    return since


def _check_tables(tables: Iterable[str] | None) -> frozenset | None:
    if tables is None:
        return None
    if isinstance(tables, (str, bytes)) or not isinstance(tables, Iterable):
        raise ValidationError(f"tables must be a list of strings, not {tables!r}")
    return frozenset(check_table(t) for t in tables)


def _check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValidationError(f"timeout must be a non-negative number of seconds, not {timeout!r}")
    return float(timeout)


# -- the watcher -----------------------------------------------------------------------------


class Watcher:
    """Reads a store's committed changes after a position, blocking until there are some.

    ``since=None`` starts at the last commit now; ``tables`` keeps only those tables'
    changes. :meth:`next_batch` returns whole commits; :meth:`close` (from any thread) makes a
    blocked :meth:`next_batch` return ``[]`` promptly. ``position`` is the seq up to which
    every change was read (delivered or filtered out).
    """

    def __init__(
        self, store: "Store", since: int | None = None, tables: Iterable[str] | None = None
    ) -> None:
        since = _check_since(since)
        self._tables = _check_tables(tables)
        self._store = store
        self._backend = store.backend
        self._closed = False
        self._lock = threading.Lock()
        self._waiting = False  # a thread is blocked in the inotify waiter
        self._inotify = self._open_inotify()
        self._mode = "wait_for_commit" if self._inotify is None else "inotify"
        try:
            self.position = head_seq(self._backend) if since is None else since
            check_not_pruned(self._backend, self.position)
        except BaseException:
            self.close()
            raise

    @property
    def waiter(self) -> str:
        """How this watcher wakes up: ``"inotify"`` or ``"wait_for_commit"``."""
        return self._mode

    def _open_inotify(self) -> _inotify.InotifyWaiter | None:
        path = self._backend.change_signal_path()
        if not path or not _inotify.available():
            return None
        try:
            return _inotify.InotifyWaiter(path)
        except OSError as exc:
            log.debug("cannot watch %s with inotify (%s); polling instead", path, exc)
            return None

    def close(self) -> None:
        """Stop; idempotent and safe from any thread (a blocked call returns ``[]``)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiter = self._inotify
            if waiter is not None:
                waiter.wake()
                if not self._waiting:  # else the waiting thread releases it
                    waiter.close()
                    self._inotify = None
        notify_commit(self._backend)

    @property
    def closed(self) -> bool:
        return self._closed

    def next_batch(self, timeout: float | None = None) -> list[Change]:
        """The changes of the next commits after :attr:`position` (whole commits), waiting up
        to ``timeout`` seconds (None: forever) for one; ``[]`` on timeout or once closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._closed:
                batch, advanced = self._read()
                if batch:
                    return batch
                if advanced:
                    continue
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return []
                self._wait(WAIT_SLICE if left is None else min(left, WAIT_SLICE))
        except Exception as exc:
            if isinstance(exc, StoreError) or not self.store_closed():
                raise
            raise StoreError("this store is closed") from exc  # closed while waiting
        return []

    def _should_stop(self) -> bool:
        return self._closed or self._store._closed

    def store_closed(self) -> bool:
        """Whether the watched store has been closed (the watcher then cannot go on)."""
        try:
            return self._store.backend is None
        except StoreError:
            return True

    def _read(self) -> tuple[list[Change], bool]:
        """(matching changes, whether the position moved) of one read of whole commits."""
        backend, since = self._store.backend, self.position
        check_not_pruned(backend, since)
        limit = BATCH
        while True:
            batch = backend.changes(since, None, limit)
            if len(batch) < limit:
                break
            whole = [c for c in batch if c.seq != batch[-1].seq]
            if whole:
                batch = whole
                break
            limit *= 4  # one commit larger than the batch: read it whole
        check_not_pruned(backend, since)  # pruned during the read: it may have skipped some
        if not batch:
            return [], False
        self.position = batch[-1].seq
        if self._tables is not None:
            batch = [c for c in batch if c.table in self._tables]
        return batch, True

    def _wait(self, timeout: float) -> bool:
        with self._lock:
            waiter = self._inotify
            if self._closed:
                return False
            self._waiting = waiter is not None
        if waiter is None:
            backend = self._store.backend
            if type(backend).wait_for_commit is Backend.wait_for_commit:  # the default poll
                return poll_for_commit(backend, self.position, timeout, self._should_stop)
            return backend.wait_for_commit(self.position, timeout)
        try:
            deadline = time.monotonic() + timeout
            while not self._should_stop():
                if _peek(self._backend, self.position):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                waiter.wait(min(left, INOTIFY_SAFETY))
            return False
        finally:
            with self._lock:
                self._waiting = False
                if self._closed and self._inotify is not None:
                    self._inotify.close()
                    self._inotify = None

    def iterate(self, timeout: float | None = None) -> Iterator[Change]:
        """Yield changes one by one; end after ``timeout`` seconds without a matching one."""
        timeout = _check_timeout(timeout)
        try:
            while True:
                batch = self.next_batch(timeout)
                if not batch:
                    return
                yield from batch
        finally:
            self.close()


def watch(
    store: "Store",
    since: int | None = None,
    *,
    tables: Iterable[str] | None = None,
    timeout: float | None = None,
) -> Iterator[Change]:
    """``Store.watch``: the position is taken now, the changes are read as they are consumed."""
    timeout = _check_timeout(timeout)
    return Watcher(store, since, tables).iterate(timeout)


# -- subscriptions ---------------------------------------------------------------------------

#: how a subscription's thread waits again after the backend failed (e.g. a dropped server)
RECONNECT = RetryPolicy(attempts=None, base=0.05, cap=2.0)


class Subscription:
    """Calls ``callback(change)`` for each change, in commit order, on one background thread.

    An exception in the callback is logged (with the change's seq, table, id and op) and the
    next change is delivered. A failure of the backend is logged and retried with back-off
    from :attr:`position`; a pruned position (``ChangesPrunedError``) or a closed store ends
    the subscription, and :attr:`error` then says why.
    """

    def __init__(
        self,
        store: "Store",
        callback: Callable[[Change], Any],
        *,
        tables: Iterable[str] | None = None,
        since: int | None = None,
        name: str | None = None,
    ) -> None:
        if not callable(callback):
            raise ValidationError(f"callback must be callable, not {callback!r}")
        self._callback = callback
        self._watcher = Watcher(store, since, tables)
        self.position: int = self._watcher.position
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=name or f"conductor-store-subscription-{id(self):x}", daemon=True
        )
        self._thread.start()

    @property
    def active(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float = 10.0) -> None:
        """Stop delivering (idempotent); waits up to ``timeout`` s for a running callback to
        return, unless called from the callback itself."""
        self._watcher.close()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the subscription has ended (closed, or ended by ``error``); True if so."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        delays = None
        while not self._watcher.closed:
            try:
                batch = self._watcher.next_batch()
                delays = None
            except Exception as exc:
                if self._watcher.store_closed():
                    log.debug("subscription ended: its store was closed")
                    self.error = exc
                    break
                if isinstance(exc, ChangesPrunedError):
                    log.error("subscription ended: %s", exc)
                    self.error = exc
                    break
                delays = delays or RECONNECT.delays()
                log.warning("subscription reads the change log again soon: %s", exc)
                time.sleep(next(delays))
                continue
            self._deliver(batch)
        self._watcher.close()

    def _deliver(self, batch: list[Change]) -> None:
        for i, change in enumerate(batch):
            try:
                self._callback(change)
            except Exception:
                log.exception(
                    "subscription callback %r raised on change seq %s %s %s:%s",
                    self._callback,
                    change.seq,
                    change.op,
                    change.table,
                    change.id,
                )
            self.position = change.seq
            last_of_commit = i + 1 == len(batch) or batch[i + 1].seq != change.seq
            if self._watcher.closed and last_of_commit:
                return
