"""The conformance suite on every mutant of ``catalogue.py`` and on the unbroken example, in
one pytest run (``test_mutants.py`` starts it in a subprocess with ``suite_plugin``). Once a
class has a failing test, its other tests are skipped: one failure is enough to name what
caught the mutant.
"""

from __future__ import annotations

import itertools

import pytest

import conductor_store
from conductor_store.backends import check_options
from conductor_store.conformance import StoreConformance
from conductor_store.examples.memory import MemoryBackend

from .catalogue import MUTANTS
from .suite_plugin import CAUGHT

_fresh = itertools.count()


def _suite_for(name: str, cls: type) -> type:
    scheme = f"mutant-{name.lower()}"

    def open_backend(url: str, *, project: str, **options: object) -> MemoryBackend:
        check_options(options, (), f"the {scheme} backend")  # as the example's factory does
        return cls(url, project)

    conductor_store.register(scheme, open_backend)

    class Suite(StoreConformance):
        multiprocess = False
        indexes = False  # the Backend defaults, as the example

        def make_url(self, tmp_path):
            return f"{scheme}://location-{next(_fresh)}"

    Suite.__name__ = Suite.__qualname__ = f"TestMutant_{name}"
    return Suite


for _name, (_cls, _promise) in {**MUTANTS, "Control": (MemoryBackend, "")}.items():
    globals()[f"TestMutant_{_name}"] = _suite_for(_name, _cls)


@pytest.fixture(autouse=True)
def _one_failure_is_enough(request):
    name = request.cls.__name__.removeprefix("TestMutant_")
    if name in CAUGHT:
        pytest.skip(f"{name} already caught by {CAUGHT[name]}")
