"""The conformance suite on the SurrealDB backends: in memory, on disk, and a server.

The server is the loopback endpoint in ``tests/support`` (the SDK's real WebSocket client and
the wheel's engine behind a small RPC server), or a real one when
``CONDUCTOR_STORE_TEST_SURREAL_URL`` (with ``CONDUCTOR_STORE_TEST_SURREAL_USER`` / ``_PASS``)
is set. Each test gets its own namespace there, so tests never see each other's data.
"""

from __future__ import annotations

import os
import uuid
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


@pytest.fixture(scope="module")
def remote_base():
    """``ws://user:pass@host:port`` of the server the remote tests use."""
    env_url = os.environ.get("CONDUCTOR_STORE_TEST_SURREAL_URL")
    if env_url:
        user = os.environ.get("CONDUCTOR_STORE_TEST_SURREAL_USER", "root")
        password = os.environ.get("CONDUCTOR_STORE_TEST_SURREAL_PASS", "root")
        parts = urlsplit(env_url)
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
        yield urlunsplit((parts.scheme, netloc, "", "", ""))
        return
    server = LoopbackServer(user="root", password="secret").start()
    try:
        yield f"ws://root:secret@127.0.0.1:{server.port}"
    finally:
        server.kill()


class TestSurrealRemote(StoreConformance):
    """``ws://``: a server shared by processes; each test in its own namespace."""

    @pytest.fixture
    def url(self, tmp_path, remote_base):
        self.base = remote_base
        return self.make_url(tmp_path)

    def make_url(self, tmp_path):
        return f"{self.base}/?namespace=test_{uuid.uuid4().hex[:16]}"
