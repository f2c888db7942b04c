"""The conformance suite on the JSON-files backend, plus the few API promises that do not
depend on any backend."""

import pytest

import conductor_store
from conductor_store import (
    BackendUnavailableError,
    ConflictError,
    CorruptRecordError,
    NotFoundError,
    QueryError,
    StoreError,
    ValidationError,
)
from conductor_store.conformance import StoreConformance
from conductor_store.examples.memory import MemoryBackend


class TestJSONFiles(StoreConformance):
    def make_url(self, tmp_path):
        return f"json://{tmp_path}/data"


# -- backend-independent API promises ----------------------------------------------------------
def test_unknown_scheme_raises_value_error_listing_known_ones():
    """open() of an unknown URL scheme raises ValueError naming it and listing known schemes."""
    with pytest.raises(ValueError) as info:
        conductor_store.open("nosuchscheme://somewhere")
    message = str(info.value)
    assert "nosuchscheme" in message
    assert "json://" in message


def test_info_removes_password_from_url():
    """info()["url"] never shows a password that was in the URL (user and host are kept)."""
    conductor_store.register(
        "pwtest", lambda url, *, project, **options: MemoryBackend(url, project)
    )
    with conductor_store.open("pwtest://alice:hunter2@db.example:8000/ns", project="p") as store:
        info = store.info()
    assert "hunter2" not in info["url"]
    assert "alice" in info["url"] and "db.example:8000" in info["url"]
    assert info["project"] == "p"


def test_every_error_is_a_store_error():
    """Every error the library raises on purpose derives from StoreError and is exported."""
    for cls in (
        NotFoundError,
        ConflictError,
        ValidationError,
        QueryError,
        BackendUnavailableError,
        CorruptRecordError,
    ):
        assert issubclass(cls, StoreError)
        assert getattr(conductor_store, cls.__name__) is cls
