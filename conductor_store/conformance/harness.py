"""The fixtures and capability flags behind :class:`StoreConformance`."""

from __future__ import annotations

from typing import Any, Callable

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

    # -- fixtures ------------------------------------------------------------------------
    @pytest.fixture
    def url(self, tmp_path) -> str:
        return self.make_url(tmp_path)

    @pytest.fixture
    def opener(self, url) -> Callable[..., Store]:
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
