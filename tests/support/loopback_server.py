"""A loopback SurrealDB endpoint for tests: the SDK's WebSocket RPC protocol in front of the
embedded engine from the ``surrealdb`` wheel (no server binary or Docker needed).

    python -m tests.support.loopback_server --port 0 --user root --pass secret [--data DIR]

prints ``PORT <n>`` once it listens. What is real and what is not:

* real: the SDK's WebSocket client and CBOR RPC frames on ``/rpc`` (subprotocol ``cbor``);
  every ``signin``, ``query`` ... request is executed by the SurrealDB engine itself (surrealdb-core
  2.3.10 in the wheel), including password checks against ``DEFINE USER ... ON ROOT``, errors,
  transactions, conflicts; data persists across restarts when ``--data`` names a directory.
* emulated: per-connection sessions. The embedded engine has one session, so the server
  remembers each connection's namespace/database (``use``) and whether it signed in, switches
  the engine's session before running its request, and runs requests one at a time. A
  connection that has not signed in is refused every request but ``use``/``signin``/``version``
  (a real server would run them as a guest with no permissions).

Test hooks (plain HTTP on the same port): ``GET /stats`` -> JSON counters;
``GET /control?drop=after_commit|before_commit|after_query`` drops the connection carrying the
next commit (or query) after (before) the engine ran it (``exit_after_commit``: the server exits);
``?drop=all`` drops every open client connection now (TCP reset, no closing handshake) and
replies once they are gone; ``?stall=<seconds>`` delays the next reply.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from surrealdb._surrealdb_ext import SyncEmbeddedDB
from surrealdb.data.cbor import decode, encode
from websockets.asyncio.server import serve

_SAFE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_OPEN = {"use", "signin", "version", "ping", "info", "invalidate"}


_NO_PERMISSION = "IAM error: Not enough permissions to perform this action"


class Server:
    def __init__(self, data: str | None, user: str, password: str) -> None:
        if not (_SAFE.fullmatch(user) and _SAFE.fullmatch(password)):
            raise SystemExit(
                "--user/--pass: 1-64 of [A-Za-z0-9_-] (they are written into DEFINE USER)"
            )
        url = f"surrealkv://{os.path.abspath(data)}" if data else "mem://"
        self.db = SyncEmbeddedDB(url)
        self.db.connect()
        self.lock = threading.Lock()
        self.current: tuple | None = None
        self.executor = ThreadPoolExecutor(1)
        self.stats = {
            "connections_total": 0,
            "connections_open": 0,
            "queries": 0,
            "commits": 0,
            "signin_failures": 0,
        }
        self.hooks: dict = {}
        self.connections: set = set()
        self._call("use", ["loopback", "loopback"])
        self._call(
            "query",
            [f"DEFINE USER IF NOT EXISTS {user} ON ROOT PASSWORD '{password}' ROLES OWNER", {}],
        )

    def _call(self, method: str, params: list):
        response = decode(self.db.execute(encode({"id": "0", "method": method, "params": params})))
        if response.get("error"):
            raise RuntimeError(response["error"])
        return response.get("result")

    def execute(self, session: dict, raw: bytes, request: dict) -> bytes:
        """Run one request for ``session`` on the shared engine (in the executor thread)."""
        method = request.get("method")
        with self.lock:
            if method not in ("signin", "use") and (session["ns"], session["db"]) != self.current:
                if session["ns"] and session["db"]:
                    self._call("use", [session["ns"], session["db"]])
                    self.current = (session["ns"], session["db"])
            try:
                return self.db.execute(raw)
            except RuntimeError as exc:  # the engine raises RPC-level errors
                return encode(
                    {"id": request.get("id"), "error": {"code": -32000, "message": str(exc)}}
                )

    async def handler(self, ws) -> None:
        loop = asyncio.get_running_loop()
        session = {"ns": None, "db": None, "authed": False}
        self.stats["connections_total"] += 1
        self.stats["connections_open"] += 1
        self.connections.add(ws)
        try:
            async for raw in ws:
                request = decode(raw)
                method = request.get("method")
                rid = request.get("id")
                if method == "use":
                    session["ns"], session["db"] = request["params"][0], request["params"][1]
                    await ws.send(encode({"id": rid, "result": None}))
                    continue
                if method not in _OPEN and not session["authed"]:
                    error = {"code": -32002, "message": _NO_PERMISSION}
                    await ws.send(encode({"id": rid, "error": error}))
                    continue
                is_query = method == "query"
                is_commit = is_query and "COMMIT TRANSACTION" in str(request["params"][0])
                drop = self.hooks.get("drop")
                if drop == "before_commit" and is_commit:
                    self.hooks.pop("drop")
                    await ws.close()
                    return
                reply = await loop.run_in_executor(
                    self.executor, self.execute, session, raw, request
                )
                if is_query:
                    self.stats["queries"] += 1
                if is_commit:
                    self.stats["commits"] += 1
                if method == "signin":
                    ok = "error" not in decode(reply)
                    session["authed"] = ok
                    if not ok:
                        self.stats["signin_failures"] += 1
                if drop == "exit_after_commit" and is_commit:
                    os._exit(0)  # the commit is applied; the server dies before replying
                if (drop == "after_commit" and is_commit) or (drop == "after_query" and is_query):
                    self.hooks.pop("drop")
                    await ws.close()
                    return
                stall = self.hooks.pop("stall", None)
                if stall:
                    await asyncio.sleep(stall)
                await ws.send(reply)
        except Exception:  # noqa: BLE001 - a client going away mid-request
            pass
        finally:
            self.connections.discard(ws)
            self.stats["connections_open"] -= 1

    async def drop_all(self) -> int:
        """Abort every open client connection (as a network failure would); wait until gone."""
        dropped = list(self.connections)
        for ws in dropped:
            ws.transport.abort()
        if dropped:
            await asyncio.wait(
                [asyncio.ensure_future(ws.wait_closed()) for ws in dropped], timeout=5
            )
        return len(dropped)

    async def http(self, connection, request):
        path = urlsplit(request.path)
        if path.path == "/stats":
            return connection.respond(HTTPStatus.OK, json.dumps(self.stats) + "\n")
        if path.path == "/control":
            for key, values in parse_qs(path.query).items():
                if key == "drop" and values[0] == "all":
                    dropped = await self.drop_all()
                    return connection.respond(
                        HTTPStatus.OK, json.dumps({"dropped": dropped}) + "\n"
                    )
                self.hooks[key] = float(values[0]) if key == "stall" else values[0]
            return connection.respond(HTTPStatus.OK, json.dumps(self.hooks) + "\n")
        return None  # the WebSocket handshake (/rpc)


async def main(args) -> None:
    server = Server(args.data, args.user, args.password)
    async with serve(
        server.handler,
        args.host,
        args.port,
        subprotocols=["cbor"],
        process_request=server.http,
        max_size=None,
    ) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="root")
    parser.add_argument("--pass", dest="password", default="secret")
    parser.add_argument("--data", default=None, help="surrealkv directory (default: in memory)")
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)
