"""The conformance suite on the SurrealDB backends: in memory, on disk, and a server.

The server is the loopback endpoint in ``tests/support`` (the SDK's real WebSocket client and
the wheel's engine behind a small RPC server), or a real one when
``CONDUCTOR_STORE_TEST_SURREAL_URL`` (with ``CONDUCTOR_STORE_TEST_SURREAL_USER`` / ``_PASS``)
is set. Each test gets its own namespace there, so tests never see each other's data. The
network hooks (dropping every connection, restarting the server, counting connections) use the
loopback server's control endpoint; against a real server the tests needing them are skipped.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from conductor_store.conformance import StoreConformance
from tests.support import LoopbackServer


class TestSurrealMemory(StoreConformance):
    """``mem://``: a fresh private database per open."""

    persistent = False
    shared_location = False
    multiprocess = False

    def make_url(self, tmp_path):
        return "mem://"


class TestSurrealKV(StoreConformance):
    """``surrealkv://``: embedded on disk; one process at a time, shared within it."""

    multiprocess = False  # a second process gets BackendUnavailableError (the lock file)

    def make_url(self, tmp_path):
        return f"surrealkv://{tmp_path}/data"


#: the loopback server's root password: distinctive, so that the secret tests can look for it
LOOPBACK_PASSWORD = "Loopback-Pw_7f3a9c"


@dataclass
class Remote:
    """The server the remote tests use: ``base`` is ``ws://user:pass@host:port``; ``server``
    is the loopback server (``None`` for a real server named by the environment)."""

    base: str
    user: str
    password: str
    server: LoopbackServer | None


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    env_url = os.environ.get("CONDUCTOR_STORE_TEST_SURREAL_URL")
    if env_url:
        user = os.environ.get("CONDUCTOR_STORE_TEST_SURREAL_USER", "root")
        password = os.environ.get("CONDUCTOR_STORE_TEST_SURREAL_PASS", "root")
        parts = urlsplit(env_url)
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
        yield Remote(urlunsplit((parts.scheme, netloc, "", "", "")), user, password, None)
        return
    # on disk, so that restart_server() keeps the data
    server = LoopbackServer(
        data=tmp_path_factory.mktemp("loopback") / "data", user="root", password=LOOPBACK_PASSWORD
    ).start()
    try:
        yield Remote(
            f"ws://root:{LOOPBACK_PASSWORD}@127.0.0.1:{server.port}",
            "root",
            LOOPBACK_PASSWORD,
            server,
        )
    finally:
        server.kill()


class TestSurrealRemote(StoreConformance):
    """``ws://``: a server shared by processes; each test in its own namespace."""

    network = True
    credentials = True

    @pytest.fixture
    def url(self, tmp_path, remote):
        self.remote = remote
        return self.make_url(tmp_path)

    def make_url(self, tmp_path):
        return f"{self.remote.base}/?namespace=test_{uuid.uuid4().hex[:16]}"

    # -- network hooks: the loopback server's control endpoint ----------------------------
    def _loopback(self, hook: str) -> LoopbackServer:
        if self.remote.server is None:
            pytest.skip(
                f"{hook} needs the loopback server's control endpoint; "
                "CONDUCTOR_STORE_TEST_SURREAL_URL names a real server"
            )
        return self.remote.server

    def drop_connections(self):
        self._loopback("drop_connections()").drop_connections()

    def restart_server(self):
        self._loopback("restart_server()").restart()

    def server_connection_count(self):
        if self.remote.server is None:
            return None
        return self.remote.server.stats()["connections_total"]

    # -- credential hooks (bad_credentials_url: the default, a wrong password in the URL) ----
    def secret(self):
        password = self.remote.password
        if (
            len(password) < 6
            or password in self.remote.user
            or password in self.remote.base.split("@")[-1]
        ):
            pytest.skip(
                "the test server's password is not distinctive enough to look for (set "
                "CONDUCTOR_STORE_TEST_SURREAL_PASS to a longer one, unlike the user name)"
            )
        return password
