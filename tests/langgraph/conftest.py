"""Every LangGraph test runs on each built-in backend: JSON files, ``mem://``, ``surrealkv://``
and a SurrealDB server (the loopback endpoint in ``tests/support``, each test in its own
namespace)."""

from __future__ import annotations

import uuid

import pytest

from tests.support import LoopbackServer

PASSWORD = "Lg-Loopback-Pw_31c9"


@pytest.fixture(scope="session")
def loopback(tmp_path_factory):
    server = LoopbackServer(
        data=tmp_path_factory.mktemp("lg-loopback") / "data", password=PASSWORD
    ).start()
    yield server
    server.kill()


def make_url(kind: str, tmp_path, request) -> str:
    if kind == "json":
        return f"json://{tmp_path}/json"
    if kind == "mem":
        return f"mem://lg_{uuid.uuid4().hex[:12]}"  # shared in-process under that name
    if kind == "surrealkv":
        return f"surrealkv://{tmp_path}/kv"
    server = request.getfixturevalue("loopback")
    return f"ws://root:{PASSWORD}@127.0.0.1:{server.port}/?namespace=lg_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["json", "mem", "surrealkv", "remote"])
def url(request, tmp_path):
    """A fresh location on one backend; opening it twice gives the same data."""
    return make_url(request.param, tmp_path, request)


@pytest.fixture(params=["json", "surrealkv", "remote"])
def persistent_url(request, tmp_path):
    """A fresh location on a backend that keeps data after every store on it is closed."""
    return make_url(request.param, tmp_path, request)
