"""Fixtures of the SurrealDB backend tests that run once per kind of location (modules that
define their own ``url``, ``store`` or ``server`` use theirs): ``url`` is a fresh ``mem://``
database, ``surrealkv://`` directory or namespace on a loopback server (one per module)."""

from __future__ import annotations

import uuid

import pytest

import conductor_store as cs
from tests.support import LoopbackServer

PASSWORD = "Surreal-Urls-Pw_51c2e"


@pytest.fixture(scope="module")
def server():
    with LoopbackServer(password=PASSWORD) as srv:
        yield srv


@pytest.fixture(params=["mem", "kv", "ws"])
def url(request, tmp_path):
    if request.param == "mem":
        return f"mem://t-{uuid.uuid4().hex[:8]}"
    if request.param == "kv":
        return f"surrealkv://{tmp_path}/data"
    srv = request.getfixturevalue("server")
    return f"ws://root:{PASSWORD}@127.0.0.1:{srv.port}/?namespace=t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(url):
    with cs.open(url) as s:
        yield s
