"""One WebSocket connection to a SurrealDB server, with the timeouts the SDK lacks.

:class:`TimedWsConnection` subclasses the SDK's :class:`surrealdb.BlockingWsSurrealConnection`
with a connect timeout, a receive timeout, and :meth:`~TimedWsConnection.rpc`, one request in
this library's codec (JSON null stays NULL). Its failures are :class:`Broken` (``sent`` says
whether the request may have reached the server) or :class:`RpcError` (the server answered
with an error). Imported only when a ``ws://``/``wss://`` store is opened.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from typing import Any

import websockets
import websockets.sync.client as ws_sync
from surrealdb import BlockingWsSurrealConnection
from surrealdb.data.cbor import decode as sdk_decode

from .codec import DecodeError, decode, encode

# websockets >= 17.1 warns unless a directly used connection says legacy=True
_LEGACY: dict[str, Any] = (
    {"legacy": True} if "legacy" in inspect.signature(ws_sync.connect).parameters else {}
)


class _NoFrameDumps(logging.LoggerAdapter):
    """The logger our WebSocket connections get: ``websockets`` logs every frame's bytes (the
    sign-in frame holds the password) at DEBUG when its logger is enabled for DEBUG, so this
    one never is, whatever level a user configures; connection events above DEBUG still go
    to ``conductor_store.surreal.websocket``."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level > logging.DEBUG:
            super().log(level, msg, *args, **kwargs)


_WS_LOGGER = _NoFrameDumps(logging.getLogger("conductor_store.surreal.websocket"), {})


class Broken(Exception):
    """The connection is unusable; ``sent`` says whether the request may have reached the server."""

    def __init__(self, reason: str, sent: bool) -> None:
        super().__init__(reason)
        self.sent = sent


class RpcError(Exception):
    pass


class TimedWsConnection(BlockingWsSurrealConnection):
    """The SDK's connection with a connect timeout and a receive timeout."""

    _ids = itertools.count(1)

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(url)
        self.timeout = timeout

    def open_socket(self) -> None:
        self.socket = ws_sync.connect(
            self.raw_url,
            max_size=None,
            subprotocols=[websockets.Subprotocol("cbor")],
            open_timeout=self.timeout,
            close_timeout=1,
            logger=_WS_LOGGER,
            **_LEGACY,
        )

    def _send(self, message: Any, process: str, bypass: bool = False) -> dict:
        # the SDK's own methods (signin, use, ...) with timeouts
        with self._lock:
            if self.socket is None:
                self.open_socket()
            socket = self.socket
            assert socket is not None
            socket.send(message.WS_CBOR_DESCRIPTOR)
            data = socket.recv(timeout=self.timeout)
            response = sdk_decode(data if isinstance(data, bytes) else data.encode())
            if not bypass:
                self.check_response_for_error(response, process)
            return response

    def rpc(self, method: str, params: list) -> Any:
        """One request with this library's codec (JSON null stays NULL); its result."""
        request_id = str(next(self._ids))
        data = self._exchange(encode({"id": request_id, "method": method, "params": params}))
        try:
            response = decode(data if isinstance(data, bytes) else data.encode())
        except (DecodeError, ValueError, IndexError) as exc:
            self._drop()
            raise Broken(f"unreadable reply: {exc}", sent=True) from None
        if not isinstance(response, dict) or response.get("id") != request_id:
            self._drop()
            raise Broken("reply does not match the request", sent=True)
        error = response.get("error")
        if error is not None:
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise RpcError(message)
        return response.get("result")

    def _exchange(self, payload: bytes) -> Any:
        """Send one request and wait for one reply (``Broken`` when the connection fails)."""
        with self._lock:
            if self.socket is None:
                try:
                    self.open_socket()
                except Exception as exc:  # noqa: BLE001
                    raise Broken(f"cannot connect: {reason_of(exc)}", sent=False) from None
            socket = self.socket
            assert socket is not None
            try:
                socket.send(payload)
            except Exception as exc:  # noqa: BLE001
                self._drop()
                raise Broken(f"send failed: {reason_of(exc)}", sent=True) from None
            try:
                return socket.recv(timeout=self.timeout)
            except TimeoutError:
                self._drop()
                raise Broken(f"no reply within {self.timeout:g} s", sent=True) from None
            except Exception as exc:  # noqa: BLE001 - ConnectionClosed and friends
                self._drop()
                raise Broken(f"connection lost: {reason_of(exc)}", sent=True) from None

    def _drop(self) -> None:
        socket, self.socket = self.socket, None
        if socket is not None:
            try:
                socket.close()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()


def reason_of(exc: BaseException) -> str:
    """An exception as a short reason for an error message."""
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
