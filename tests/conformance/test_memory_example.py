"""The conformance suite on the in-memory example backend that ships for authors to copy
(``conductor_store.examples.memory``): a backend written only against the public interface."""

import itertools

import conductor_store
from conductor_store.conformance import StoreConformance
from conductor_store.examples.memory import open_backend

conductor_store.register("memory-example", open_backend)
_fresh = itertools.count()


class TestMemoryExample(StoreConformance):
    multiprocess = False  # the data lives in this process only
    indexes = False  # it keeps no indexes (the Backend defaults)

    def make_url(self, tmp_path):
        return f"memory-example://location-{next(_fresh)}"
