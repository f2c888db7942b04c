"""Group commit among the threads of one process: concurrent commits share one line and one fsync.

A thread that commits while another thread of the same backend is committing queues up behind
it (LevelDB's writer queue). When that commit is done, the thread at the head of the queue
becomes the leader: it takes every queued commit after it whose records no earlier member of
the batch writes (up to ``MAX_BATCH``), and commits them together under the writers' lock --
one commit number, one log line, one ``fdatasync``, one set of record files. Each member is
checked on its own (a failed check fails only that member, which gets its own error) and gets
its own changes back; a failure of the shared part (the disk, say) is every member's. A lone
thread commits alone, for the price of one uncontended condition variable.

Between processes the batch goes further (:mod:`.mailbox`): a leader that finds the writers'
lock taken posts its batch, and the process holding the lock next carries it in its own
commit.
"""

from __future__ import annotations

import collections
import os
import threading
from typing import Callable, Optional

from ...errors import CommitUnknownError
from ..base import CommitResult, Write

#: the most commits one line carries
MAX_BATCH = 64


class Request:
    """One caller's commit in a batch: its writes and checks, then its outcome."""

    __slots__ = ("writes", "checks", "keys", "result", "error", "done", "span")

    def __init__(self, writes: list[Write], checks: dict) -> None:
        self.writes = writes
        self.checks = checks
        self.keys = {(w.table, w.id) for w in writes}
        self.result: Optional[CommitResult] = None
        self.error: Optional[BaseException] = None
        self.done = False
        self.span = (0, 0)  # where its changes are among the commit line's (once staged)

    def outcome(self) -> CommitResult:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class CommitQueue:
    """The commits waiting in one process (``pid``: a forked child makes its own)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._cv = threading.Condition(threading.Lock())
        self._queue: collections.deque[Request] = collections.deque()

    def submit(self, req: Request, run: Callable[[list[Request]], None]) -> CommitResult:
        """Commit ``req``, alone or in a batch that ``run`` commits (as leader or follower)."""
        with self._cv:
            self._queue.append(req)
            while not req.done and self._queue[0] is not req:
                self._cv.wait()
            if req.done:  # a leader committed it
                return req.outcome()
            batch = self._take()
        try:
            run(batch)
        except BaseException as exc:
            for r in batch:
                if r.result is None and r.error is None:
                    r.error = exc if r is req or isinstance(exc, Exception) else _interrupted(exc)
        finally:
            with self._cv:
                for r in batch:
                    r.done = True
                    self._queue.popleft()
                self._cv.notify_all()
        return req.outcome()

    def _take(self) -> list[Request]:
        """The head and the queued requests after it that touch nothing the batch writes."""
        batch = [self._queue[0]]
        written = set(batch[0].keys)
        for r in list(self._queue)[1:MAX_BATCH]:
            if not written.isdisjoint(r.keys) or not written.isdisjoint(r.checks):
                break
            batch.append(r)
            written |= r.keys
        return batch


def _interrupted(exc: BaseException) -> CommitUnknownError:
    return CommitUnknownError(
        f"the thread committing this commit together with its own was interrupted "
        f"({type(exc).__name__}); the commit may or may not have been made: read it back"
    )
