"""Indexes, the change log's pruning and its range reads on the SurrealDB backends."""

from __future__ import annotations

import pytest

import conductor_store as cs
from conductor_store import IndexSpec
from conductor_store.backends.surreal import ordered, surql
from conductor_store.query import compile_query


def _fill(store, n=60):
    with store.transaction() as tx:
        for i in range(n):
            doc = {"status": ["open", "done", "failed"][i % 3], "n": i, "meta": {"k": i % 5}}
            tx.insert("t", doc, id=f"r{i:03}")
    store.insert("t", {"status": None, "n": "x"}, id="odd1")
    store.insert("t", {"meta": [{"k": 1}]}, id="odd2")


def _plan(store, where) -> str:
    vars: dict = {"tb": "t"}
    sql = surql.select(compile_query(where), surql.Params(vars))
    return str(store.backend._one(sql + " EXPLAIN", vars, "explain"))


WHERES = [
    {"status": "failed"},
    "status IN ('open', 'failed')",
    "n > 40",
    "n >= 10 AND n < 20",
    "meta.k = 3",
    "status = 'done' AND n > 30",
    "NOT status = 'done'",
    "meta.k IS NULL",
]


def test_finds_use_the_declared_index_and_answer_as_without(store):
    _fill(store)
    before = {str(w): (store.find("t", w), store.count("t", w)) for w in WHERES}
    store.backend.ensure_index(IndexSpec("t", ("status",)))
    store.backend.ensure_index(IndexSpec("t", ("n",)))
    store.backend.ensure_index(IndexSpec("t", ("meta.k",)))
    store.backend.ensure_index(IndexSpec("t", ("n",)))  # idempotent
    for where in WHERES:
        assert (store.find("t", where), store.count("t", where)) == before[str(where)], where
    for where in WHERES[:6]:
        assert "Iterate Index" in _plan(store, where), where
    assert store.backend.indexes() == [
        IndexSpec("t", ("meta.k",)),
        IndexSpec("t", ("n",)),
        IndexSpec("t", ("status",)),
    ]


#: every kind, ties within and across int/float (2, 2.0), NONE and NULL, arrays spread over
#: the index by their elements, empty containers; "-" leaves the field out
MIXED = [3, 1.5, 2, -1, 0.25, 10, 2.0, "a", "", True, False, [1], {"a": 1}, 1e20, -1e20, 7,
         2, 2, "b", [0], {}, [], 2.0, 5, 5, 5, None, "-", [2, "x"], "é", 2**40, 0.0, 0]  # fmt: skip
SLICES = [(limit, offset) for limit in (1, 2, 3, 5, 10, 40, 100, 300) for offset in (0, 1, 7, 50)]


def _fill_mixed(store, values, n=240):
    with store.transaction() as tx:
        for i in range(n):
            v = values[(i * 7) % len(values)]
            tx.insert("t", {} if v == "-" else {"f": v}, id=f"{(i * 7919) % 1000:03}-{i}")
    return compile_query(None, order_by="f").apply(store.backend.scan("t"))


@pytest.mark.parametrize("values", [MIXED, [1.5, 0.5, 2.5, 3, 4, 5, 6, 7, 8, 9], [5, 5, 5, 6, 1]])
def test_order_by_an_indexed_field_walks_the_index_and_answers_as_without(store, values):
    """ORDER BY f LIMIT k through the index (ordered.py) gives the general path's rows."""
    every = _fill_mixed(store, values)
    store.ensure_index("t", ("f",))
    served = 0
    for limit, offset in SLICES:
        want = [d["id"] for d in every[offset : offset + limit]]
        query = compile_query(None, order_by="f", limit=limit, offset=offset)
        answer = ordered.find(store.backend, "t", query, "f")
        served += answer is not None
        assert [d["id"] for d in answer or every[offset : offset + limit]] == want
        assert [d["id"] for d in store.find("t", order_by="f", limit=limit, offset=offset)] == want
    assert served >= 8  # the index answered, not only the general path


def test_order_by_without_the_index_still_answers_right(store):
    """Ties then come in no particular order from the engine: the tie queries decide them."""
    every = _fill_mixed(store, [5, 5, 5, 5, 6, 7, 1, 1.5, 1.5, 1.5])
    served = 0
    for limit, offset in SLICES:
        query = compile_query(None, order_by="f", limit=limit, offset=offset)
        answer = ordered.find(store.backend, "t", query, "f")
        if answer is not None:
            served += 1
            assert [d["id"] for d in answer] == [d["id"] for d in every[offset : offset + limit]]
    assert served >= 8


def test_a_unique_index_refuses_duplicates_in_a_commit_and_a_transaction(store):
    store.insert("t", {"email": "a@x"}, id="a")
    store.insert("t", {"other": 1}, id="b")  # missing fields are not constrained
    store.insert("t", {"email": None}, id="c")
    store.insert("t", {"email": None}, id="d")  # nor are NULLs
    store.backend.ensure_index(IndexSpec("t", ("email",), unique=True))
    with pytest.raises(cs.ConflictError, match="email"):
        store.insert("t", {"email": "a@x"}, id="e")
    with pytest.raises(cs.ConflictError):
        with store.transaction() as tx:
            tx.insert("t", {"email": "z@x"}, id="f")
            tx.insert("t", {"email": "z@x"}, id="g")
    assert store.get("t", "e") is None and store.get("t", "f") is None
    assert store.insert("t", {}, id="h")["_version"] == 5  # the failures took no number


def test_a_unique_index_over_repeating_values_is_refused(store):
    store.insert("t", {"k": 1}, id="a")
    store.insert("t", {"k": 1}, id="b")
    with pytest.raises(cs.ConflictError, match="unique"):
        store.backend.ensure_index(IndexSpec("t", ("k",), unique=True))
    assert store.backend.indexes() == []


def test_indexes_survive_reopen(tmp_path):
    url = f"surrealkv://{tmp_path}/data"
    with cs.open(url) as store:
        store.backend.ensure_index(IndexSpec("t", ("a", "b.c"), unique=True))
    with cs.open(url) as store:
        assert store.backend.indexes() == [IndexSpec("t", ("a", "b.c"), True)]


def test_pruned_changes_are_gone_the_data_stays_and_numbering_goes_on(store):
    for i in range(10):
        store.insert("t", {"i": i}, id=f"r{i}")
    backend = store.backend
    assert backend.pruned_through() == 0
    backend.prune_changes(4)
    assert backend.pruned_through() == 4
    assert [c.seq for c in backend.changes(4)] == [5, 6, 7, 8, 9, 10]
    backend.prune_changes(100)  # clamped to the last commit, whose record is kept
    assert backend.pruned_through() == 10 and backend.changes(10) == []
    assert store.insert("t", {}, id="next")["_version"] == 11
    assert [c.seq for c in backend.changes(10)] == [11]
    assert len(store.find("t")) == 11


def test_changes_read_in_bounded_ranges_across_batches(store, monkeypatch):
    from conductor_store.backends.surreal import backend as module

    monkeypatch.setattr(module, "CHANGES_BATCH", 5)  # 12 commits: three ranges
    with store.transaction() as tx:
        tx.insert("u", {}, id="first")
    for i in range(0, 1100, 100):
        with store.transaction() as tx:
            for j in range(i, i + 100):
                tx.insert("t", {"j": j}, id=f"r{j:05}")
    seqs = [c.seq for c in store.changes()]
    assert len(seqs) == 1101 and seqs[-1] == 12
    assert [c.id for c in store.changes(since=5, tables=["t"], limit=3)] == [
        "r00400",
        "r00401",
        "r00402",
    ]
    assert [c.table for c in store.changes(tables=["u"])] == ["u"]
