"""Random sequences of operations against a plain-dict model (hypothesis' stateful testing):
insert, put, update, delete, get, find, count, transactions committed or rolled back, and
reopening the store on persistent backends. Every read must agree with the model."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from conductor_store import ConflictError, NotFoundError

TABLES = st.sampled_from(["tasks", "runs"])
IDS = st.sampled_from(["a", "b", "c", "d"])
VALUES = st.integers(min_value=-3, max_value=3) | st.none()
SETTINGS = settings(
    max_examples=12,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def _fields(doc: dict | None) -> dict | None:
    return None if doc is None else {k: v for k, v in doc.items() if k not in ("id", "_version")}


class StoreMachine(RuleBasedStateMachine):
    """Drives stores made by ``open_store()`` (all on one location); subclassed per test."""

    open_store: Callable[[], Any]
    persistent: bool

    def __init__(self) -> None:
        super().__init__()
        self.store = self.open_store()
        self.model: dict[tuple, dict] = {}
        for table in self.store.tables():  # a location reused across examples: empty it
            for doc in self.store.find(table):
                self.store.delete(table, doc["id"])

    def teardown(self) -> None:
        self.store.close()

    @rule(table=TABLES, id=IDS, v=VALUES)
    def insert(self, table, id, v):
        if (table, id) in self.model:
            with pytest.raises(ConflictError):
                self.store.insert(table, {"v": v}, id=id)
        else:
            self.store.insert(table, {"v": v}, id=id)
            self.model[(table, id)] = {"v": v}

    @rule(table=TABLES, id=IDS, v=VALUES)
    def put(self, table, id, v):
        self.store.put(table, id, {"v": v, "w": 1})
        self.model[(table, id)] = {"v": v, "w": 1}

    @rule(table=TABLES, id=IDS, v=VALUES)
    def update(self, table, id, v):
        if (table, id) not in self.model:
            with pytest.raises(NotFoundError):
                self.store.update(table, id, {"v": v})
        else:
            self.store.update(table, id, {"v": v})
            self.model[(table, id)]["v"] = v

    @rule(table=TABLES, id=IDS)
    def delete(self, table, id):
        assert self.store.delete(table, id) == ((table, id) in self.model)
        self.model.pop((table, id), None)

    @rule(table=TABLES, id=IDS, v=VALUES, commit=st.booleans())
    def transaction(self, table, id, v, commit):
        staged = dict(self.model)
        tx = self.store.transaction()
        tx.put(table, id, {"v": v})
        staged[(table, id)] = {"v": v}
        other = "z" + id
        if tx.get(table, other) is None:
            tx.insert(table, {"v": 0}, id=other)
            staged[(table, other)] = {"v": 0}
        if commit:
            tx.commit()
            self.model = staged
        else:
            tx.rollback()

    @rule()
    def reopen(self):
        if self.persistent:
            self.store.close()
            self.store = self.open_store()

    @rule(table=TABLES, x=st.integers(min_value=-3, max_value=3))
    def find_and_count(self, table, x):
        want = sorted(
            i
            for (t, i), f in self.model.items()
            if t == table and f["v"] is not None and f["v"] > x
        )
        found = self.store.find(table, "v > :x", params={"x": x})
        assert [d["id"] for d in found] == want
        assert self.store.count(table, "v > :x", params={"x": x}) == len(want)

    @invariant()
    def reads_agree_with_the_model(self):
        for table in ("tasks", "runs"):
            for id in ("a", "b", "c", "d", "za", "zb", "zc", "zd"):
                assert _fields(self.store.get(table, id)) == self.model.get((table, id))
        assert self.store.tables() == sorted({t for t, _ in self.model})


class StatefulTests:
    def test_random_operations_agree_with_a_dict_model(self, url):
        """Random sequences of writes, reads, transactions (committed or rolled back) and, on
        persistent backends, reopening: every get, find, count and tables() answer equals a
        plain-dict model's."""
        attributes = {
            "open_store": staticmethod(lambda: self.open_store(url, "default")),
            "persistent": self.persistent,
        }
        machine = type("BoundStoreMachine", (StoreMachine,), attributes)
        machine.TestCase.settings = SETTINGS
        machine.TestCase().runTest()
