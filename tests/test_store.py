"""Store-level promises that need a backend doing something at a chosen moment: a prune racing
with a read of the change log. The backend is the in-memory example backend, subclassed."""

import pytest

import conductor_store as cs
from conductor_store import ChangesPrunedError, Store
from conductor_store.examples.memory import MemoryBackend


class PrunesWhileReading(MemoryBackend):
    """Once armed, another process prunes the change log between the Store's check and its
    read (unarmed, the Store's own retention may read the log as usual)."""

    armed = False

    def changes(self, since=0, tables=None, limit=None):
        found = super().changes(since, tables, limit)
        if self.armed:
            self.prune_changes(self._state["seq"])
        return found


def test_prune_racing_with_a_read_raises_changes_pruned():
    """changes() checks pruned_through() again after reading: a prune that raced with the read
    raises ChangesPrunedError (its oldest: where to continue) rather than a short answer."""
    backend = PrunesWhileReading("dict://race", "p")
    store = Store(backend, project="p")
    store.put("tasks", "a", {"v": 1})
    store.put("tasks", "b", {"v": 2})
    backend.armed = True
    with pytest.raises(ChangesPrunedError) as info:
        store.changes(0)
    assert info.value.oldest == 2
    assert store.changes(2) == []


def test_ensure_index_goes_to_the_backend_as_a_spec():
    """ensure_index normalises fields to a tuple of dotted names and hands the backend one
    IndexSpec; the dict backend (Backend defaults) refuses unique ones with StoreError."""
    store = Store(MemoryBackend("dict://index", "p"), project="p")
    assert store.ensure_index("tasks", "meta.model") == cs.IndexSpec("tasks", ("meta.model",))
    with pytest.raises(cs.StoreError, match="unique"):
        store.ensure_index("tasks", ["email"], unique=True)
    assert store.indexes() == []
