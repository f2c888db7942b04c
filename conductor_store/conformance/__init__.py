"""The conformance suite every backend must pass -- ours and third parties'.

Run it on your backend by subclassing :class:`StoreConformance` in a pytest module and saying
how to make a fresh location::

    from conductor_store.conformance import StoreConformance

    class TestMyBackend(StoreConformance):
        def make_url(self, tmp_path):
            return f"mybackend://{tmp_path}/data"

Capability flags (class attributes) switch off the tests of optional features your backend
does not have; the skipped tests then say which flag skipped them.
"""

from __future__ import annotations

from .harness import StoreConformance

__all__ = ["StoreConformance"]
