"""Embedded SurrealDB engines (``mem://``, ``surrealkv://``) shared inside one process.

One engine per location and process: two ``open()`` calls on one on-disk path (or one
``mem://name``) share a refcounted engine, so they see each other's commits at once. Another
process is kept out of an on-disk store by a lock file next to it (``<path>.lock``), taken
without waiting: it gets :class:`BackendUnavailableError` instead of a second engine writing
the same files.

Durability: the engine fsyncs each commit only when ``SURREAL_SYNC_DATA=true`` is in the
environment the first time an embedded engine starts in the process (it reads it once). So
the first embedded open sets it -- to true unless that first store is on disk with
``durable=False`` -- and a later ``durable=True`` open in a process whose engine already runs
without fsync raises instead of silently losing durability.
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from ...errors import BackendUnavailableError, StoreError
from . import verify
from .backend import Transport
from .codec import decode, encode

_guard = threading.Lock()
_engines: dict[tuple, "Engine"] = {}
_sync_data: bool | None = None  # SURREAL_SYNC_DATA as the process's engine read it
SYNC_ENV = "SURREAL_SYNC_DATA"
_TRUE = ("1", "true", "yes", "on")
#: how the engine reports a failure of its own storage (ENOSPC, EIO, a failed fsync)
_IO_FAILURE = re.compile(r"IO error|Log error|fsync failed|No space left|storage space")


_we_set_env = False  # SURREAL_SYNC_DATA was set by us, not by the user


def env_sync() -> bool | None:
    """The user's SURREAL_SYNC_DATA (None when unset, or when only we set it)."""
    value = os.environ.get(SYNC_ENV)
    if value is None or _we_set_env:
        return None
    return value.strip().lower() in _TRUE


def process_sync_state() -> bool | None:
    """Whether this process's embedded engine fsyncs commits (None: no engine started yet)."""
    return _sync_data


def _start_engines(on_disk_durable: bool | None) -> bool:
    """Fix SURREAL_SYNC_DATA before the first engine of the process starts; return it."""
    global _sync_data, _we_set_env
    if _sync_data is None:
        explicit = env_sync()
        if explicit is not None:
            _sync_data = explicit
        else:
            _sync_data = on_disk_durable is not False
            os.environ[SYNC_ENV] = "true" if _sync_data else "false"
            _we_set_env = True
    return _sync_data


class Engine:
    """One embedded datastore and its single RPC session, used under a lock."""

    def __init__(self, url: str, key: tuple | None, file_lock: Any = None) -> None:
        from surrealdb._surrealdb_ext import SyncEmbeddedDB

        self.url = url
        self.key = key
        self.file_lock = file_lock
        self.refs = 0
        self.lock = threading.RLock()  # RLock: a restart checks the data through run()
        self.current: tuple | None = None
        self.queries = 0
        self.broken: str | None = None  # why the engine must be restarted before its next use
        self.restarts = 0
        #: databases whose clean-close marker is still in place: nothing has written to them
        #: since the engine started (verify.py removes the marker before the first write)
        self.marked: set[tuple[str, str]] = set()
        self.db: Any = None
        try:
            self.db = SyncEmbeddedDB(url)
            self.db.connect()
        except Exception as exc:  # noqa: BLE001 - the engine raises bare RuntimeErrors
            raise BackendUnavailableError(
                f"cannot start the embedded SurrealDB engine at {url}: {exc}"
            ) from exc

    def rpc(self, method: str, params: list) -> Any:
        if self.db is None:
            raise StoreError("this store is closed")
        try:
            raw = self.db.execute(encode({"id": "1", "method": method, "params": params}))
        except RuntimeError as exc:  # RPC-level errors (parse errors...) come as RuntimeError
            if _IO_FAILURE.search(str(exc)):
                self.broken = str(exc)
            raise StoreError(f"SurrealDB {method} failed: {exc}") from None
        response = decode(raw)
        error = response.get("error") if isinstance(response, dict) else None
        if error is not None:
            message = error.get("message") if isinstance(error, dict) else error
            raise StoreError(f"SurrealDB {method} failed: {message}")
        return response.get("result")

    def run(self, ns: str, db: str, sql: str, vars: dict, use: bool | str = True) -> list:
        with self.lock:
            if self.broken is not None:
                self._restart()
            if use is not True:  # root ("INFO FOR ROOT") or namespace level
                self.current = None
                self.rpc("use", [ns or None, None] if use == "ns" else [None, None])
            elif self.current != (ns, db):
                self.current = None
                self.rpc("use", [ns, db])
                self.current = (ns, db)
            self.queries += 1
            results = self.rpc("query", [sql, vars]) or []
            for stmt in results:
                if stmt.get("status") == "ERR" and _IO_FAILURE.search(str(stmt.get("result"))):
                    self.broken = str(stmt.get("result"))
            return results

    def _restart(self) -> None:
        """A new engine on the same files. After the engine failed to write its log (disk
        full, an I/O error) it refuses every later write ("fsync failed"); a new one runs the
        engine's recovery (dropping the failed commit's partial record) and works again once
        the cause is gone. Until then each call tries again and raises."""
        from surrealdb._surrealdb_ext import SyncEmbeddedDB

        old, self.db = self.db, None
        self.current = None
        if old is not None:
            try:
                old.close()
            except RuntimeError:
                pass
            del old
        try:
            with _guard, _private_files():
                db = SyncEmbeddedDB(self.url)
                db.connect()
        except Exception as exc:  # noqa: BLE001 - the engine raises bare RuntimeErrors
            raise BackendUnavailableError(
                f"the embedded SurrealDB engine at {self.url} failed to write ({self.broken}) "
                f"and cannot start again yet: {exc}"
            ) from None
        self.db = db
        self.broken = None
        self.restarts += 1
        verify.engine_started(self)

    def close(self) -> None:
        """Close the engine and release its files at once: the engine's ``close()`` alone
        keeps its log and manifest files (and its runtime's fds) open until the Python object
        is freed, so the last reference is dropped here."""
        try:
            if self.db is not None and self.broken is None and self.file_lock is not None:
                verify.engine_closing(self)
        except StoreError:  # it closes anyway; the next start checks every database
            pass
        db, self.db = self.db, None
        try:
            if db is not None:
                db.close()
        finally:
            del db
            if self.file_lock is not None:
                self.file_lock.release()
            if self.key is not None and self.key[0] == "kv":
                make_private(self.key[1])


def acquire(kind: str, location: str | None, durable: bool | None) -> Engine:
    """The engine for ``kind`` ("mem" or "kv") at ``location`` (None: a private memory db)."""
    with _guard:
        if kind == "kv":
            sync = _start_engines(durable)
            if durable and not sync:
                raise BackendUnavailableError(
                    f"cannot open surrealkv://{location} durably: this process already started "
                    f"the embedded SurrealDB engine with {SYNC_ENV} off (a durable=False store "
                    f"was opened first, or {SYNC_ENV}=false is set), and the engine reads it only "
                    "once. "
                    "Open durable stores first, or pass durable=False."
                )
        else:
            _start_engines(None)
        key = None if location is None else (kind, location)
        engine = _engines.get(key) if key is not None else None
        if engine is None:
            if kind == "kv":
                assert location is not None
                engine = _open_disk(location)
            else:
                engine = Engine("mem://", key)
            if key is not None:
                _engines[key] = engine
        engine.refs += 1
        return engine


def _open_disk(path: str) -> Engine:
    from filelock import FileLock, Timeout

    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise BackendUnavailableError(f"cannot create {parent}: {exc}") from exc
    # not thread-local: a store opened in one thread may be closed in another (asyncio code
    # does both in worker threads), and the release must then really release
    extra: dict[str, Any] = {"is_singleton": False} if _has_singleton() else {}
    lock = FileLock(path + ".lock", mode=0o600, thread_local=False, **extra)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise BackendUnavailableError(
            f"surrealkv://{path} is open in another process (its lock file {path}.lock is held); "
            "an embedded SurrealDB store can be opened by one process at a time -- run a SurrealDB "
            "server (ws://) to share it"
        ) from None
    except OSError as exc:
        raise BackendUnavailableError(f"cannot lock surrealkv://{path}: {exc}") from exc
    try:
        with _private_files():
            os.makedirs(path, mode=0o700, exist_ok=True)
            engine = Engine(f"surrealkv://{path}", ("kv", path), lock)
        make_private(path)
    except OSError as exc:
        lock.release()
        raise BackendUnavailableError(f"cannot open surrealkv://{path}: {exc}") from exc
    except BaseException:
        lock.release()
        raise
    try:
        verify.engine_started(engine)
        return engine
    except BaseException:
        engine.close()
        raise


@contextmanager
def _private_files() -> Iterator[None]:
    """Files and directories the engine creates meanwhile are private (umask 077). The umask
    is process-wide: this runs under ``_guard`` and only around the engine's start."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def make_private(path: str) -> None:
    """``path`` and everything under it: directories 0700, files 0600 (the engine creates
    new log segments later with the process's umask; stores of earlier versions were 0755/0644).
    The lock file next to it is created 0600."""
    for root, dirs, files in os.walk(path):
        for name, mode in [(d, 0o700) for d in dirs] + [(f, 0o600) for f in files]:
            full = os.path.join(root, name)
            try:
                if not os.path.islink(full):
                    os.chmod(full, mode)
            except OSError:  # gone meanwhile
                pass
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass


def _has_singleton() -> bool:
    import inspect

    from filelock import FileLock

    try:
        return "is_singleton" in inspect.signature(FileLock.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def release(engine: Engine) -> None:
    with _guard:
        engine.refs -= 1
        if engine.refs > 0:
            return
        if engine.key is not None and _engines.get(engine.key) is engine:
            del _engines[engine.key]
    engine.close()


class EmbeddedTransport(Transport):
    def __init__(self, engine: Engine, namespace: str, database: str) -> None:
        self.engine = engine
        self.ns = namespace
        self.db = database
        self._closed = False

    def run(self, sql: str, vars: dict, *, idempotent: bool = True) -> list:
        if self._closed:
            raise StoreError("this store is closed")
        if not idempotent:  # a write: first take away the clean-close marker (verify.py)
            verify.before_write(self.engine, self.ns, self.db)
        return self.engine.run(self.ns, self.db, sql, vars) or []

    def info(self) -> dict:
        return {"shared_engine_opens": self.engine.refs, "engine_restarts": self.engine.restarts}

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release(self.engine)
