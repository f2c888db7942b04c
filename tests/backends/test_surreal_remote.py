"""SurrealDB server backend (ws://) against the loopback server in tests/support: sign-in,
timeouts, the connection pool, reconnecting, commits whose reply was lost, and secrets."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest

import conductor_store as cs
from tests.support import LoopbackServer

PASSWORD = "s3cret-Pw_42"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LoopbackServer(data=tmp_path_factory.mktemp("loopback") / "data", password=PASSWORD).start()
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


# -- sign-in and reachability ------------------------------------------------------------------
def test_bad_credentials_fail_fast_without_the_password(server, caplog):
    caplog.set_level(logging.DEBUG)
    start = time.monotonic()
    with pytest.raises(cs.BackendUnavailableError) as err:
        cs.open(f"ws://root:wrong-{PASSWORD}@127.0.0.1:{server.port}", timeout=5)
    assert time.monotonic() - start < 5
    assert "sign in" in str(err.value) and f"127.0.0.1:{server.port}" in str(err.value)
    assert_no_secret(err.value, repr(err.value), caplog.text)
    assert "wrong-" not in str(err.value)


def test_unreachable_port_fails_fast_with_the_url(server):
    start = time.monotonic()
    with pytest.raises(cs.BackendUnavailableError, match=r"ws://root@127\.0\.0\.1:1\b") as err:
        cs.open(f"ws://root:{PASSWORD}@127.0.0.1:1", timeout=3)
    assert time.monotonic() - start < 3
    assert_no_secret(err.value)


def test_password_never_in_info_repr_or_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    with cs.open(f"ws://root:{PASSWORD}@127.0.0.1:{server.port}/rpc", namespace="secrets") as s:
        s.insert("t", {"v": 1}, id="a")
        server.control(drop="after_query")  # a reconnect, with its log lines
        assert s.get("t", "a")["v"] == 1
        info = s.info()
        assert info["url"] == f"ws://root@127.0.0.1:{server.port}" and info["user"] == "root"
        assert_no_secret(info, repr(s), repr(s.backend), repr(s.backend._t), s.backend.url, caplog.text)
        assert "connected again" in caplog.text  # the logs were produced, and are clean


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


# -- lost connections and lost replies ---------------------------------------------------------------
def test_commit_whose_reply_was_lost_is_not_duplicated(store, server):
    store.insert("t", {"n": 0}, id="a")
    before = server.stats()["commits"]
    server.control(drop="after_commit")  # the engine commits, the client never hears back
    doc = store.update("t", "a", {"n": 1})
    assert doc == {"id": "a", "_version": 2, "n": 1}
    assert server.stats()["commits"] == before + 1  # found by its marker, not re-sent
    assert [(c.op, c.doc["_version"]) for c in store.changes()] == [("insert", 1), ("update", 2)]
    server.control(drop="after_commit")
    assert store.insert("t", {"x": 1}, id="b")["_version"] == 1  # an insert too: no ConflictError


def test_commit_lost_before_it_ran_is_sent_again_once(store, server):
    before = server.stats()["commits"]
    server.control(drop="before_commit")
    assert store.insert("t", {"v": 1}, id="a")["_version"] == 1
    assert server.stats()["commits"] == before + 1
    assert len(store.changes()) == 1


def test_store_survives_a_server_restart(tmp_path):
    srv = LoopbackServer(data=tmp_path / "data", password=PASSWORD).start()
    try:
        s = open_store(srv, timeout=10, pool_size=3)
        s.insert("t", {"v": 1}, id="a")
        srv.restart()  # killed and started again on the same port with the same data
        assert s.get("t", "a")["v"] == 1
        s.insert("t", {"v": 2}, id="b")
        assert [c.seq for c in s.changes()] == [1, 2]
        assert s.info()["reconnects"] >= 1
        s.close()
    finally:
        srv.kill()


# -- the pool ----------------------------------------------------------------------------------------
def test_threads_use_several_connections(server):
    with open_store(server, pool_size=4) as s:
        before = server.stats()["connections_total"]
        errors, seqs = [], []
        barrier = threading.Barrier(8)

        def work(k):
            try:
                barrier.wait(10)
                for i in range(10):
                    s.insert("t", {"k": k}, id=f"{k}-{i}")
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        info = s.info()
        assert 2 <= info["max_in_use"] <= 4 and info["connections_open"] <= 4
        assert server.stats()["connections_total"] - before >= 1  # new sockets were opened
        seqs = [c.seq for c in s.changes()]
        assert sorted(seqs) == list(range(1, 81)) and s.count("t") == 80


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
        with pytest.raises(cs.BackendUnavailableError, match="outcome is unknown") as err:
            s.update("t", "a", {"v": 1})
        assert_no_secret(err.value)
        s.close()
    finally:
        srv.kill()
