"""A SurrealDB server over WebSocket: a pool of signed-in connections with timeouts.

The SDK's blocking client has no timeouts (``websockets.sync.client.connect`` and
``socket.recv()`` wait forever) and one socket serialises every thread, so this module
subclasses :class:`surrealdb.BlockingWsSurrealConnection` to add a connect timeout and a
per-request timeout, and keeps up to ``pool_size`` of them.

A connection that fails is dropped (with every idle one: they likely died together) and a new
one signs in and selects the namespace/database again. Reads are retried. A commit is never
re-sent blindly: when the connection fails after it was sent, :class:`OutcomeUnknown` tells
the backend to look for the commit's own marker record first (see ``backend.py``).
"""

from __future__ import annotations

import logging
import threading
import time

from ...errors import BackendUnavailableError, StoreError
from ...retry import RetryPolicy
from .backend import OutcomeUnknown, Transport, is_engine_conflict
from .wsconn import Broken, RpcError, TimedWsConnection, reason_of

log = logging.getLogger("conductor_store.surreal")


class RemoteTransport(Transport):
    remote = True

    def __init__(
        self,
        *,
        endpoint: str,
        shown_url: str,
        user: str | None,
        password: str | None,
        auth_level: str,
        namespace: str,
        database: str,
        pool_size: int,
        timeout: float,
    ) -> None:
        self._cls = TimedWsConnection
        self._endpoint = endpoint
        self._shown = shown_url
        self._user = user
        self.__password = password  # never shown: not in repr, info, errors or logs
        self._level = auth_level
        self._ns = namespace
        self._db = database
        self.pool_size = pool_size
        self.timeout = timeout
        self._cond = threading.Condition()
        self._idle: list = []
        self._total = 0
        self._in_use = 0
        self._closed = False
        self.stats = {"connections_created": 0, "reconnects": 0, "max_in_use": 0, "dropped": 0}
        # connect once now: an unreachable server or bad credentials fail open(), quickly
        conn = self._connect(first=True)
        with self._cond:
            self._total += 1
            self._idle.append(conn)

    def __repr__(self) -> str:
        return f"<RemoteTransport {self._shown} ns={self._ns!r} db={self._db!r}>"

    # -- connections ---------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        secret = self.__password
        return text.replace(secret, "***") if secret else text

    def _connect(self, first: bool = False):
        conn = self._cls(self._endpoint, self.timeout)
        try:
            conn.open_socket()
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailableError(
                f"cannot reach SurrealDB at {self._shown}: {self._scrub(reason_of(exc))}"
            ) from None
        try:
            if self._user is not None:
                params: dict = {"user": self._user, "pass": self.__password or ""}
                if self._level in ("namespace", "database"):
                    params["ns"] = self._ns
                if self._level == "database":
                    params["db"] = self._db
                try:
                    conn.rpc("signin", [params])
                except RpcError as exc:
                    raise BackendUnavailableError(
                        f"cannot sign in to SurrealDB at {self._shown} as {self._level} user "
                        f"{self._user!r}: {self._scrub(str(exc))}"
                    ) from None
            try:
                conn.rpc("use", [self._ns, self._db])
            except RpcError as exc:
                raise BackendUnavailableError(
                    f"SurrealDB at {self._shown} refused namespace {self._ns!r} / database "
                    f"{self._db!r}: {self._scrub(str(exc))}"
                ) from None
        except Broken as exc:
            conn.close()
            raise BackendUnavailableError(
                f"lost the connection to SurrealDB at {self._shown} while opening it: "
                f"{self._scrub(str(exc))}"
            ) from None
        except BaseException:
            conn.close()
            raise
        self.stats["connections_created"] += 1
        if not first:
            self.stats["reconnects"] += 1
            log.info("connected again to %s (ns=%s db=%s)", self._shown, self._ns, self._db)
        return conn

    def _acquire(self, deadline: float):
        with self._cond:
            while True:
                if self._closed:
                    raise StoreError("this store is closed")
                if self._idle:
                    conn = self._idle.pop()
                    break
                if self._total < self.pool_size:
                    self._total += 1
                    conn = None
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BackendUnavailableError(
                        f"all {self.pool_size} connections to {self._shown} stayed busy for "
                        f"{self.timeout:g} s (raise pool_size or timeout)"
                    )
                self._cond.wait(remaining)
            self._in_use += 1
            self.stats["max_in_use"] = max(self.stats["max_in_use"], self._in_use)
        if conn is not None:
            conn.timeout = self.timeout
            return conn
        try:
            return self._connect_until(deadline)
        except BaseException:
            with self._cond:
                self._total -= 1
                self._in_use -= 1
                self._cond.notify()
            raise

    def _connect_until(self, deadline: float):
        """Connect, retrying a server that is restarting, until ``deadline``."""
        delays = RetryPolicy(
            attempts=None, base=0.05, cap=0.5, jitter=0.5, deadline=deadline - time.monotonic()
        ).delays()
        while True:
            try:
                return self._connect()
            except BackendUnavailableError as exc:
                pause = next(delays, None)
                if "sign in" in str(exc) or pause is None:
                    raise
                log.info("SurrealDB at %s unavailable, retrying: %s", self._shown, exc)
                time.sleep(pause)

    def _release(self, conn, broken: bool) -> None:
        stale: list = []
        with self._cond:
            self._in_use -= 1
            if broken or self._closed:
                self._total -= 1
                stale.append(conn)
                if broken:  # its siblings probably died with it: reconnect lazily
                    self.stats["dropped"] += 1
                    stale.extend(self._idle)
                    self._total -= len(self._idle)
                    self._idle.clear()
            else:
                self._idle.append(conn)
            self._cond.notify_all()
        for c in stale:
            c.close()

    # -- requests ------------------------------------------------------------------------
    def run(self, sql: str, vars: dict, *, idempotent: bool = True) -> list:
        attempt = 0
        while True:
            attempt += 1
            conn = self._acquire(time.monotonic() + self.timeout)
            try:
                result = conn.rpc("query", [sql, vars])
            except Broken as exc:
                self._release(conn, broken=True)
                log.warning("connection to %s failed: %s", self._shown, exc)
                if exc.sent and not idempotent:
                    raise OutcomeUnknown(str(exc)) from None
                if attempt >= 3:
                    raise BackendUnavailableError(
                        f"SurrealDB at {self._shown} is unavailable: {self._scrub(str(exc))}"
                    ) from None
                continue
            except RpcError as exc:
                self._release(conn, broken=False)
                message = self._scrub(str(exc))
                if is_engine_conflict(message):
                    return [{"status": "ERR", "result": message}]
                raise StoreError(f"SurrealDB query failed: {message}") from None
            except BaseException:
                self._release(conn, broken=True)
                raise
            self._release(conn, broken=False)
            return result or []

    def info(self) -> dict:
        with self._cond:
            return {
                "pool_size": self.pool_size,
                "connections_open": self._total,
                "connections_in_use": self._in_use,
                **self.stats,
            }

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._total -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            conn.close()
