"""Opening, describing and closing a store."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest

from conductor_store import Store, StoreError

CLOSED_CALLS = {
    "get": lambda s: s.get("tasks", "a"),
    "get_many": lambda s: s.get_many("tasks", ["a"]),
    "insert": lambda s: s.insert("tasks", {"v": 1}),
    "put": lambda s: s.put("tasks", "a", {"v": 1}),
    "update": lambda s: s.update("tasks", "a", {"v": 1}),
    "delete": lambda s: s.delete("tasks", "a"),
    "find": lambda s: s.find("tasks"),
    "count": lambda s: s.count("tasks"),
    "tables": lambda s: s.tables(),
    "changes": lambda s: s.changes(),
    "info": lambda s: s.info(),
    "transaction": lambda s: s.transaction().insert("tasks", {"v": 1}),
    "atomic": lambda s: s.atomic(lambda tx: tx.get("tasks", "a")),
}


class LifecycleTests:
    def test_open_returns_an_empty_store(self, store):
        """open() on a fresh location returns a Store holding nothing."""
        assert isinstance(store, Store)
        assert store.tables() == [] and store.changes() == []
        assert store.get("tasks", "a") is None

    def test_info_shape(self, url, opener):
        """info() names the backend, the URL (password removed) and the project."""
        info = opener("proj-1").info()
        assert isinstance(info, dict)
        assert isinstance(info["backend"], str) and info["backend"]
        assert isinstance(info["url"], str) and info["url"]
        assert info["project"] == "proj-1"
        assert opener().info()["project"] == "default"

    def test_info_url_is_the_url_without_password(self, url, store):
        """info()["url"] is the URL the store was opened with, with any password removed."""
        password = urlsplit(url).password if "://" in url else None
        if password:
            shown = urlsplit(store.info()["url"])
            assert shown.password in (None, "***")  # (the password may also be the user name)
            assert shown.hostname == urlsplit(url).hostname
        else:
            assert store.info()["url"] == url

    def test_close_is_idempotent(self, store):
        """close() may be called more than once; the store stays closed."""
        store.close()
        store.close()
        with pytest.raises(StoreError):
            store.get("tasks", "a")

    def test_context_manager_closes(self, opener):
        """``with open(...) as store`` yields the store and closes it on exit."""
        with opener() as store:
            store.insert("tasks", {"v": 1}, id="a")
            assert store.get("tasks", "a")["v"] == 1
        with pytest.raises(StoreError):
            store.get("tasks", "a")

    def test_context_manager_closes_on_error(self, opener):
        """The store is closed even when the ``with`` block raises, and the error propagates."""
        with pytest.raises(KeyError):
            with opener() as store:
                raise KeyError("app error")
        with pytest.raises(StoreError):
            store.tables()

    @pytest.mark.parametrize("call", list(CLOSED_CALLS))
    def test_closed_store_refuses_use(self, store, call):
        """Every operation on a closed store raises StoreError."""
        store.close()
        with pytest.raises(StoreError):
            CLOSED_CALLS[call](store)

    def test_closing_one_store_leaves_others_working(self, opener):
        """Closing a store does not close another store open on the same location."""
        self.require("shared_location")
        s1, s2 = opener(), opener()
        s1.insert("tasks", {"v": 1}, id="a")
        s1.close()
        assert s2.get("tasks", "a")["v"] == 1
        s2.insert("tasks", {"v": 2}, id="b")
        assert s2.tables() == ["tasks"]

    def test_store_closed_by_another_thread_can_be_opened_again(self, url):
        """A store opened in one thread and closed in another releases its location: asyncio
        code opens and closes in worker threads, and a reopen must then succeed."""
        opened: list[Store] = []
        worker = threading.Thread(target=lambda: opened.append(self.open_store(url, "default")))
        worker.start()
        worker.join()
        opened[0].insert("tasks", {"v": 1}, id="a")
        opened[0].close()
        with self.open_store(url, "default") as again:
            again.insert("tasks", {"v": 2}, id="b")
            assert again.get("tasks", "b")["v"] == 2
