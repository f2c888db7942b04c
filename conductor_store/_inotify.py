"""A minimal inotify waiter through ctypes (Linux only; no dependency).

``InotifyWaiter(path)`` watches one file or directory (for a directory: the files in it) for
writes, creations, renames and deletions; :meth:`InotifyWaiter.wait` blocks until one of them
happened since the last call, or a timeout. Events that happen before ``wait`` is called are
queued by the kernel, so check-then-wait loops lose no wake-up as long as the waiter was created
before the first check. Elsewhere :func:`available` is False and callers poll instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import sys

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

MASK = (
    IN_MODIFY
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)

_libc: ctypes.CDLL | None = None
_checked = False


def _load() -> ctypes.CDLL | None:
    global _libc, _checked
    if _checked:
        return _libc
    _checked = True
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_init1.restype = ctypes.c_int
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_add_watch.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    _libc = libc
    return libc


def available() -> bool:
    """Whether this platform offers inotify (Linux with a C library exposing it)."""
    return _load() is not None


class InotifyWaiter:
    """Wait for changes under one path. Raises ``OSError`` if it cannot be watched."""

    def __init__(self, path: str) -> None:
        libc = _load()
        if libc is None:
            raise OSError("inotify is not available on this platform")
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        if libc.inotify_add_watch(fd, os.fsencode(path), MASK) < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, f"inotify_add_watch {path}: {os.strerror(err)}")
        self._fd = fd
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.path = path

    def fileno(self) -> int:
        return self._fd

    def wait(self, timeout: float) -> bool:
        """True once something changed since the last call (the queued events are drained)
        or :meth:`wake` was called, False when ``timeout`` seconds pass first."""
        if self._fd < 0:
            raise OSError("this inotify waiter is closed")
        ready, _, _ = select.select([self._fd, self._wake_r], [], [], max(0.0, timeout))
        for fd in ready:
            _drain(fd)
        return bool(ready)

    def wake(self) -> None:
        """Make a :meth:`wait` in another thread return now (safe from any thread)."""
        if self._wake_w >= 0:
            os.write(self._wake_w, b"!")

    def close(self) -> None:
        """Release the descriptors; call it from the thread that waits (or when none does)."""
        for name in ("_fd", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                os.close(fd)

    def __enter__(self) -> "InotifyWaiter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except BlockingIOError:
            return
