"""Stores that talk to a server (``network``) and sign in to it (``credentials``): reconnecting
after dropped connections and a server restart, a connection pool under concurrent commits,
unreachable servers and refused credentials, and a password that is never shown.

The server is driven through the harness hooks (``drop_connections``, ``restart_server``,
``server_connection_count``, ``unreachable_url``, ``bad_credentials_url`` ...); see
:class:`~conductor_store.conformance.harness.Harness`. No test asserts a wall-clock limit.
"""

from __future__ import annotations

import logging
import traceback
from urllib.parse import unquote, urlsplit

import pytest

from conductor_store import BackendUnavailableError

from ._support import assert_hidden, in_threads, last_seq, raises_naming, strings

#: words one of which an error for refused credentials must use (case-insensitive)
SIGN_IN_WORDS = (
    "sign in",
    "sign-in",
    "signin",
    "log in",
    "login",
    "auth",
    "credential",
    "password",
    "permission",
    "denied",
)
#: words one of which an error for an unreachable server must use (case-insensitive)
REACH_WORDS = ("reach", "connect", "refused", "unavailable", "timed out", "timeout")
#: names of ``open()`` options whose values are secrets
_SECRET_OPTIONS = ("pass", "secret", "token", "key")


def _address(url: str) -> str | None:
    """``host:port`` of ``url`` as an error message should show it (no user, no password)."""
    netloc = urlsplit(url).netloc if "://" in url else ""
    return netloc.rpartition("@")[2] or None


def _bad_credentials(harness, url: str) -> tuple[str, dict, list[str]]:
    """(URL, options) that the server refuses, and the wrong secrets they carry."""
    bad_url, options = harness.bad_credentials_url(url), harness.bad_credentials_options()
    if bad_url == url and not options:
        pytest.fail(
            "credentials = True, but the URL carries no password: override "
            "bad_credentials_url() or bad_credentials_options()"
        )
    wrong = [str(v) for k, v in options.items() if any(w in k.lower() for w in _SECRET_OPTIONS)]
    password = urlsplit(bad_url).password if "://" in bad_url else None
    if password:
        wrong.append(unquote(password))
    return bad_url, options, wrong


def _secret(harness) -> str:
    secret = harness.secret()
    if not secret:
        pytest.fail("credentials = True, but secret() returned nothing")
    return secret


def _log_everything(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="conductor_store")


def _assert_not_logged(caplog, secrets) -> None:
    assert_hidden(
        secrets,
        logs=caplog.text,
        records="\n".join(record.getMessage() for record in caplog.records),
    )


class NetworkTests:
    # -- dropped connections (network) -------------------------------------------------------
    def test_read_after_connections_dropped(self, store):
        """After the server drops every connection, the next read reconnects (signing in and
        selecting the database again) and returns the committed data."""
        self.require("network")
        doc = store.insert("tasks", {"v": 1}, id="a")
        self.drop_connections()
        assert store.get("tasks", "a") == doc

    def test_write_after_connections_dropped(self, store):
        """After the server drops every connection, the next write commits exactly once, and
        no earlier commit is lost or repeated."""
        self.require("network")
        store.insert("tasks", {"v": 1}, id="a")
        store.insert("tasks", {"v": 1}, id="b")
        before = store.changes()
        self.drop_connections()
        version = store.update("tasks", "a", {"v": 2})["_version"]
        after = store.changes()
        assert after[: len(before)] == before
        assert [(c.id, c.op, c.doc["_version"]) for c in after[len(before) :]] == [
            ("a", "update", version)
        ]
        assert version == after[-1].seq
        assert after[-1].seq > before[-1].seq
        assert store.count("tasks") == 2

    def test_projects_stay_apart_after_reconnecting(self, opener):
        """After the server drops every connection, stores of two projects on one URL each
        reconnect to their own project: neither reads nor writes the other's records."""
        self.require("network")
        one, two = opener("proj-1"), opener("proj-2")
        one.insert("tasks", {"p": 1}, id="a")
        two.insert("tasks", {"p": 2}, id="a")
        self.drop_connections()
        assert one.get("tasks", "a")["p"] == 1
        assert two.get("tasks", "a")["p"] == 2
        one.insert("tasks", {"p": 1}, id="only-1")
        assert two.get("tasks", "only-1") is None
        assert one.get("tasks", "a")["p"] == 1

    def test_full_pool_recovers_after_connections_dropped(self, opener):
        """When every connection of a pool dies at once, the next read and the next write
        still succeed, however many dead connections the pool held."""
        self.require("network")
        store = opener(**self.pool_options(4))
        in_threads(8, lambda k: [store.insert("tasks", {"k": k}, id=f"t{k}-{i}") for i in range(3)])
        self.drop_connections()
        assert store.count("tasks") == 24
        assert store.insert("tasks", {"v": 1}, id="after")["_version"] == last_seq(store)
        assert store.count("tasks") == 25

    # -- server restart (network) -------------------------------------------------------------
    def test_store_keeps_working_after_server_restart(self, store):
        """A store that was open while the server restarted reads its data and commits
        afterwards, and commit numbers carry on."""
        self.require("network")
        doc = store.insert("tasks", {"v": 1}, id="a")
        self.restart_server()
        assert store.get("tasks", "a") == doc
        store.insert("tasks", {"v": 2}, id="b")
        log = store.changes()
        assert [c.id for c in log] == ["a", "b"] and log[0].seq < log[1].seq

    # -- the connection pool (network) --------------------------------------------------------
    def test_concurrent_commits_through_a_small_pool_all_succeed(self, opener):
        """Eight threads committing at once through one store with a pool of 2 connections all
        succeed, and no update is lost: every insert is there and a counter incremented with
        atomic() counts every increment."""
        self.require("network")
        store = opener(**self.pool_options(2))
        store.insert("acct", {"n": 0}, id="counter")

        def work(k: int) -> None:
            for i in range(3):
                store.insert("tasks", {"k": k, "i": i}, id=f"t{k}-{i}")
                store.atomic(
                    lambda tx: tx.update(
                        "acct", "counter", {"n": tx.get("acct", "counter")["n"] + 1}
                    ),
                    retries=1000,
                )

        in_threads(8, work)
        assert store.get("acct", "counter")["n"] == 24
        assert store.count("tasks") == 24
        seqs = [c.seq for c in store.changes()]
        assert len(seqs) == len(set(seqs)) == 1 + 24 + 24

    def test_concurrent_requests_use_several_connections(self, opener):
        """Threads working at once through a store with a pool of 4 use more than one
        connection to the server (needs ``server_connection_count()``)."""
        self.require("network")
        before = self.server_connection_count()
        if before is None:
            pytest.skip("backend does not implement server_connection_count()")
        store = opener(**self.pool_options(4))

        def work(k: int) -> None:
            for i in range(5):
                store.insert("tasks", {"k": k}, id=f"t{k}-{i}")
                store.get("tasks", f"t{k}-{i}")

        in_threads(8, work)
        assert self.server_connection_count() - before >= 2

    # -- failing to open ----------------------------------------------------------------------
    def test_unreachable_server_raises_backend_unavailable(self, url):
        """open() of a URL where no server listens raises BackendUnavailableError naming the
        address (user at most, no password) and why."""
        self.require("network")
        target = self.unreachable_url(url)
        fragments = [f for f in (_address(target),) if f] + [REACH_WORDS]
        with raises_naming(BackendUnavailableError, *fragments):
            self.open_store(target).close()

    def test_bad_credentials_raise_backend_unavailable(self, url):
        """open() with credentials the server refuses raises BackendUnavailableError (not a
        generic error, no retrying until a timeout) naming the address and that signing in
        failed."""
        self.require("credentials")
        target, options, _ = _bad_credentials(self, url)
        fragments = [f for f in (_address(target),) if f] + [SIGN_IN_WORDS]
        with raises_naming(BackendUnavailableError, *fragments):
            self.open_store(target, **options).close()

    # -- the password is never shown (credentials) --------------------------------------------
    @pytest.mark.parametrize("failure", ["bad_credentials", "unreachable"])
    def test_failed_open_never_shows_a_password(self, url, failure):
        """The error of a failed open() -- refused credentials, or no server -- shows neither
        the password in use nor a wrong one: not in its message, repr or printed traceback."""
        self.require("credentials")
        hidden = [_secret(self)]
        if failure == "unreachable":
            self.require("network")
            target, options = self.unreachable_url(url), {}
        else:
            target, options, wrong = _bad_credentials(self, url)
            hidden += wrong
        with pytest.raises(BackendUnavailableError) as err:
            self.open_store(target, **options).close()
        assert_hidden(
            hidden,
            message=str(err.value),
            repr=repr(err.value),
            traceback="".join(traceback.format_exception(err.value)),
        )

    def test_secret_not_in_info_or_repr(self, store):
        """Neither info() (any key or value) nor repr()/str() of the store shows the password."""
        self.require("credentials")
        store.insert("tasks", {"v": 1}, id="a")
        assert_hidden(
            [_secret(self)], info="\n".join(strings(store.info())), repr=repr(store), str=str(store)
        )

    def test_secret_never_logged(self, url, opener, caplog):
        """No log record -- of the library or anything it uses, at DEBUG level -- shows the
        password or a wrong one, while opening, using and closing a store and while failing to
        open one with bad credentials."""
        self.require("credentials")
        target, options, wrong = _bad_credentials(self, url)
        _log_everything(caplog)
        with opener() as store:
            store.insert("tasks", {"v": 1}, id="a")
            with store.transaction() as tx:
                tx.update("tasks", "a", {"v": 2})
            store.find("tasks", where="v = 2")
            store.changes()
            store.info()
        with pytest.raises(BackendUnavailableError):
            self.open_store(target, **options).close()
        _assert_not_logged(caplog, [_secret(self), *wrong])

    def test_secret_not_logged_when_reconnecting(self, store, caplog):
        """Reconnecting after the server dropped every connection (signing in again) logs
        nothing that shows the password."""
        self.require("network")
        self.require("credentials")
        secret = _secret(self)
        store.insert("tasks", {"v": 1}, id="a")
        _log_everything(caplog)
        self.drop_connections()
        store.get("tasks", "a")
        store.update("tasks", "a", {"v": 2})
        _assert_not_logged(caplog, [secret])
