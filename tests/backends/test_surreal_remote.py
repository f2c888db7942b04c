"""SurrealDB server backend (ws://) against the loopback server in tests/support: what is
specific to this backend -- timeouts and stalled replies, commits whose reply was lost (found
by their ``_CS_txn`` marker, never sent twice), the pool's statistics, its options.

Reconnecting after dropped connections or a restart, the pool under concurrent commits, bad
credentials, unreachable servers and the password never being shown are promises of every
network backend: the conformance suite checks them (``conductor_store/conformance/network.py``,
wired in ``tests/conformance/test_surreal.py``)."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
import websockets.sync.client as ws_sync

import conductor_store as cs
from conductor_store.conformance._support import in_threads
from tests.support import LoopbackServer

PASSWORD = "s3cret-Pw_42"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LoopbackServer(
        data=tmp_path_factory.mktemp("loopback") / "data", password=PASSWORD
    ).start()
    yield srv
    srv.kill()


def open_store(server, **options):
    options.setdefault("namespace", "t" + uuid.uuid4().hex[:12])
    return cs.open(server.url, user="root", password=PASSWORD, **options)


@pytest.fixture
def store(server):
    with open_store(server, timeout=5) as s:
        yield s


def assert_no_secret(*texts):
    for text in texts:
        assert PASSWORD not in str(text)


# -- sign-in ---------------------------------------------------------------------------------------
def test_unauthenticated_client_cannot_query(server):
    with pytest.raises(cs.StoreError, match="Not enough permissions"):
        with cs.open(server.url, namespace="anon") as s:
            s.get("t", "a")


# -- timeouts --------------------------------------------------------------------------------------
def test_a_stalled_read_times_out_and_is_retried(store, server):
    store.insert("t", {"v": 1}, id="a")
    store.backend._t.timeout = 0.5
    server.control(stall=3)
    start = time.monotonic()
    assert store.get("t", "a")["v"] == 1  # the first attempt timed out, the retry answered
    assert time.monotonic() - start < 2.5
    assert store.info()["dropped"] >= 1


def test_a_stalled_commit_is_found_not_sent_twice(store, server):
    store.insert("t", {"n": 0}, id="a")
    store.backend._t.timeout = 0.5
    before = server.stats()["commits"]
    server.control(stall=2)
    assert store.update("t", "a", {"n": 1})["_version"] == 2
    assert store.get("t", "a") == {"id": "a", "_version": 2, "n": 1}
    assert server.stats()["commits"] == before + 1
    assert [c.doc["_version"] for c in store.changes()] == [1, 2]


def test_server_down_raises_within_the_timeout(tmp_path):
    with LoopbackServer(password=PASSWORD) as srv:
        s = open_store(srv, timeout=1)
    start = time.monotonic()  # the server is gone now
    with pytest.raises(cs.BackendUnavailableError, match="unavailable|cannot reach"):
        s.get("t", "a")
    assert time.monotonic() - start < 4
    s.close()


# -- lost connections and lost replies -------------------------------------------------------------
def test_commit_whose_reply_was_lost_is_not_duplicated(store, server):
    store.insert("t", {"n": 0}, id="a")
    before = server.stats()["commits"]
    server.control(drop="after_commit")  # the engine commits, the client never hears back
    doc = store.update("t", "a", {"n": 1})
    assert doc == {"id": "a", "_version": 2, "n": 1}
    assert server.stats()["commits"] == before + 1  # found by its marker, not re-sent
    assert [(c.op, c.doc["_version"]) for c in store.changes()] == [("insert", 1), ("update", 2)]
    server.control(drop="after_commit")
    assert store.insert("t", {"x": 1}, id="b")["_version"] == 3  # an insert too: no ConflictError


def test_commit_lost_before_it_ran_is_sent_again_once(store, server):
    before = server.stats()["commits"]
    server.control(drop="before_commit")
    assert store.insert("t", {"v": 1}, id="a")["_version"] == 1
    assert server.stats()["commits"] == before + 1
    assert len(store.changes()) == 1


# -- the pool --------------------------------------------------------------------------------------
def test_pool_stats_stay_within_pool_size_and_count_reconnects(server):
    with open_store(server, pool_size=4) as s:
        in_threads(8, lambda k: [s.insert("t", {"k": k}) for _ in range(10)])
        before = s.info()
        assert 2 <= before["max_in_use"] <= 4 and before["connections_open"] <= 4
        assert (
            before["dropped"] == 0 and before["connections_created"] == before["connections_open"]
        )
        server.drop_connections()
        assert s.count("t") == 80
        after = s.info()
        assert after["dropped"] >= 1 and after["reconnects"] > before["reconnects"]
        assert after["connections_open"] <= 4 and after["connections_in_use"] == 0


def test_pool_size_and_timeout_come_from_env(server, monkeypatch):
    monkeypatch.setenv("SURREAL_POOL_SIZE", "2")
    monkeypatch.setenv("SURREAL_TIMEOUT", "3")
    monkeypatch.setenv("SURREAL_USER", "root")
    monkeypatch.setenv("SURREAL_PASS", PASSWORD)
    with cs.open(server.url, namespace="envtest") as s:
        assert (s.info()["pool_size"], s.info()["timeout"]) == (2, 3.0)
    with pytest.raises(cs.ValidationError, match="pool_size"):
        cs.open(server.url, pool_size=0)


def test_commit_lost_with_the_server_says_its_outcome_is_unknown():
    srv = LoopbackServer(password=PASSWORD).start()
    try:
        s = open_store(srv, timeout=1)
        s.insert("t", {}, id="a")
        srv.control(drop="exit_after_commit")  # applies the commit, then the server is gone
        with pytest.raises(cs.CommitUnknownError, match="outcome is unknown") as err:
            s.update("t", "a", {"v": 1})
        assert_no_secret(err.value)
        s.close()
    finally:
        srv.kill()


# -- secrets in logs ---------------------------------------------------------------------------
def test_debug_logging_never_shows_the_sign_in_password(server, caplog):
    """With the root logger at DEBUG, ``websockets`` dumps frames (in hex) unless its logger is
    ours: the password must appear neither as text nor as bytes in any log record."""
    caplog.set_level(logging.DEBUG)
    with open_store(server) as s:
        s.insert("t", {"v": 1}, id="a")
        assert s.get("t", "a")["v"] == 1
    ours = "\n".join(record.getMessage() for record in caplog.records)
    # the control: a plain websockets connection's frames do show up, bytes in hex
    marker = b"\xffcontrol-marker\x80"  # not UTF-8: shown as hex, like a CBOR frame
    with ws_sync.connect(f"ws://127.0.0.1:{server.port}/rpc", subprotocols=["cbor"]) as plain:
        plain.send(marker)
    control = "\n".join(record.getMessage() for record in caplog.records)
    assert _hex_forms(marker)[-1] in control.replace(" ", "")
    for form in [PASSWORD, *_hex_forms(PASSWORD.encode())]:
        assert form not in ours and form not in ours.replace(" ", "")


def _hex_forms(raw: bytes) -> list[str]:
    return [" ".join(f"{b:02x}" for b in raw[-6:]), raw.hex()]
