"""The writers' lock: a ``threading.RLock`` in front of an exclusive ``flock`` of ``.meta/lock``.

The file lock is the one ``filelock.FileLock`` takes on Unix (so the two exclude each other),
taken directly on a descriptor kept open (:class:`FlockLock`); ``filelock.FileLock`` itself
where there is no ``fcntl`` (:class:`FileLockLock`). flock locks belong to the open file
description, so the threads of one backend share it -- hence the RLock in front of it -- and a
forked child must open its own (:meth:`WriterLock.after_fork`).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from .files import FILE_MODE

#: how often a writer waiting for the lock polls it, when filelock is the lock (no fcntl)
LOCK_POLL_SECONDS = 0.0005


class FlockLock:
    """An exclusive ``flock(2)`` on the lock file, held through a descriptor kept open.

    It avoids ``filelock``'s per-acquire cost (~80 us: it reopens the file, resolves the path,
    keeps registries) and its polling: a waiting writer sleeps in the kernel and is woken as
    soon as the lock is released.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        self._mtime: Optional[int] = None

    def mark(self) -> Optional[int]:
        """The lock file's mtime when last acquired (see ``Search._bump_lock_mark``)."""
        return self._mtime

    def acquire(self, blocking: bool = True) -> bool:
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:  # the file we locked must still be the lock file (not unlinked or replaced)
                st = os.stat(self._path)
                if os.fstat(self._fd).st_ino == st.st_ino:
                    self._mtime = st.st_mtime_ns
                    return True
            except FileNotFoundError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, FILE_MODE)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class FileLockLock:
    """The portable fallback (no ``fcntl``): ``filelock.FileLock``, polled."""

    def __init__(self, path: str) -> None:
        import filelock  # ~50 ms to import: only where it is needed

        self._timeout = filelock.Timeout
        self._lock = filelock.FileLock(
            path, thread_local=False, mode=FILE_MODE, poll_interval=LOCK_POLL_SECONDS
        )

    def acquire(self, blocking: bool = True) -> bool:
        try:
            self._lock.acquire(blocking=blocking)
            return True
        except self._timeout:
            return False

    def release(self) -> None:
        self._lock.release()

    def mark(self) -> Optional[int]:
        return None  # (no stat taken: the index list is checked at every commit)

    def close(self) -> None:
        pass


class WriterLock:
    """This process's writers' lock on one store: the RLock (threads) then the file lock
    (processes). ``make`` builds the file lock from the lock file's path."""

    def __init__(self, path: str, make: Callable[[str], Any]) -> None:
        self.path = path
        self.thread = threading.RLock()
        self.file = make(path)

    def acquire(self) -> None:
        self.thread.acquire()
        try:
            self.file.acquire()
        except BaseException:
            self.thread.release()
            raise

    def try_acquire(self) -> bool:
        if not self.thread.acquire(blocking=False):
            return False
        try:
            if self.file.acquire(blocking=False):
                return True
        except BaseException:
            self.thread.release()
            raise
        self.thread.release()
        return False

    def release(self) -> None:
        try:
            self.file.release()
        finally:
            self.thread.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
