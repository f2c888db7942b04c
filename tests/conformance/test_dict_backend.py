"""The conformance suite on a backend written outside the library (see dict_backend.py)."""

import itertools

import conductor_store
from conductor_store.conformance import StoreConformance

from .dict_backend import open_backend

conductor_store.register("dict", open_backend)
_fresh = itertools.count()


class TestDictBackend(StoreConformance):
    multiprocess = False  # the data lives in this process only
    indexes = False  # it keeps no indexes (the Backend defaults)

    def make_url(self, tmp_path):
        return f"dict://location-{next(_fresh)}"
