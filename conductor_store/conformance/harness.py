"""The fixtures and capability flags behind :class:`StoreConformance`."""

from __future__ import annotations

import socket
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

import conductor_store
from conductor_store import Store


class Harness:
    """Override :meth:`make_url` (required) and the flags below (optional)."""

    #: data survives ``close()`` and a new ``open()`` of the same URL
    persistent: bool = True
    #: two stores opened on one URL in one process see each other's commits
    shared_location: bool = True
    #: other processes can open the same location at the same time
    multiprocess: bool = True
    #: ``ensure_index(..., unique=True)`` works and is enforced (unique-index tests)
    indexes: bool = True
    #: the store talks to a server over connections (network tests): implement
    #: :meth:`drop_connections` and :meth:`restart_server`; :meth:`server_connection_count`,
    #: :meth:`pool_options` and :meth:`unreachable_url` have defaults you may override
    network: bool = False
    #: the store signs in with a secret (credential tests): implement :meth:`secret`, and
    #: :meth:`bad_credentials_url` and/or :meth:`bad_credentials_options` unless the URL
    #: carries the password (the default then puts a wrong one there)
    credentials: bool = False
    #: keyword options passed to every ``conductor_store.open`` call (JSON-serialisable, so
    #: that the multiprocess tests can hand them to a child process)
    open_options: dict = {}
    #: Python source a child process runs before it opens the URL (multiprocess tests), e.g.
    #: ``"import my_backend"`` when your scheme is registered by an import, not an entry point
    child_setup: str = ""

    def make_url(self, tmp_path) -> str:
        """A URL naming a fresh, empty location under ``tmp_path``."""
        raise NotImplementedError("subclass StoreConformance and override make_url(tmp_path)")

    def open_store(self, url: str, project: str = "default", **options: Any) -> Store:
        return conductor_store.open(url, project=project, **{**self.open_options, **options})

    # -- hooks of network backends (``network = True``) -----------------------------------
    def drop_connections(self) -> None:
        """Make the server drop every open client connection now, as a network failure would;
        return once they are dropped. Raise ``pytest.skip(reason)`` if the server in use
        cannot do it (e.g. a real server the tests do not control)."""
        raise NotImplementedError("network = True: override drop_connections()")

    def restart_server(self) -> None:
        """Stop the server and start it again at the same address, keeping its data; return
        once it accepts connections. Raise ``pytest.skip(reason)`` if it cannot be done."""
        raise NotImplementedError("network = True: override restart_server()")

    def server_connection_count(self) -> int | None:
        """How many client connections the server has accepted since it started (a count that
        only grows), or ``None`` when unknown (the default: the test needing it is skipped)."""
        return None

    def pool_options(self, size: int) -> dict:
        """Options of ``open()`` giving a store a pool of up to ``size`` connections."""
        return {"pool_size": size}

    def unreachable_url(self, url: str) -> str:
        """``url`` pointed at an address where no server listens. The default keeps scheme,
        user info, path and query, and puts a local port that nothing listens on."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # -- hooks of backends that sign in (``credentials = True``) ------------------------------
    def secret(self) -> str:
        """The password (or token) the test's URL and ``open_options`` sign in with. The tests
        check it is never shown, so it must be distinctive: not part of the user name, host or
        a word the backend prints anyway. Raise ``pytest.skip(reason)`` if it is not."""
        raise NotImplementedError("credentials = True: override secret()")

    def bad_credentials_url(self, url: str) -> str:
        """``url`` with credentials the server refuses. The default replaces a password in the
        URL by ``"wrong-" + password`` (and leaves a URL without one unchanged)."""
        parts = urlsplit(url)
        if parts.password is None:
            return url
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:wrong-{parts.password}@{hostport}"))

    def bad_credentials_options(self) -> dict:
        """Options of ``open()`` (over ``open_options``) with credentials the server refuses."""
        return {}

    # -- fixtures ------------------------------------------------------------------------
    @pytest.fixture
    def url(self, tmp_path) -> str:
        return self.make_url(tmp_path)

    @pytest.fixture
    def opener(self, url) -> Iterator[Callable[..., Store]]:
        """``opener(project="default", **options)`` opens another store on the test's URL;
        every store it opened is closed at the end of the test."""
        opened: list[Store] = []

        def _open(project: str = "default", **options: Any) -> Store:
            store = self.open_store(url, project, **options)
            opened.append(store)
            return store

        yield _open
        for store in reversed(opened):
            store.close()

    @pytest.fixture
    def store(self, opener) -> Store:
        return opener()

    def require(self, flag: str) -> None:
        if not getattr(self, flag):
            pytest.skip(f"backend declares {flag} = False")
