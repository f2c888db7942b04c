"""StoreBackedStore, LangGraph's BaseStore on conductor-store, on every backend."""

from __future__ import annotations

import asyncio

import pytest
from langgraph.store.base import GetOp, ListNamespacesOp, PutOp, SearchOp

import conductor_store as cs
from conductor_store.langgraph import StoreBackedStore
from conductor_store.langgraph.items import ITEMS


def letters(texts: list[str]) -> list[list[float]]:
    """A deterministic toy embedding: how often each of a few letters occurs."""
    return [[float(t.count(c)) for c in "aeiou"] for t in texts]


@pytest.fixture
def store(url):
    with cs.open(url) as s:
        yield s


@pytest.fixture
def items(store):
    return StoreBackedStore(store)


def test_put_get_update_delete(items):
    items.put(("users", "u1"), "prefs", {"theme": "dark"})
    first = items.get(("users", "u1"), "prefs")
    assert first.value == {"theme": "dark"} and first.namespace == ("users", "u1")
    items.put(("users", "u1"), "prefs", {"theme": "light"})
    second = items.get(("users", "u1"), "prefs")
    assert second.value == {"theme": "light"}
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at
    items.delete(("users", "u1"), "prefs")
    assert items.get(("users", "u1"), "prefs") is None
    assert items.get(("nobody",), "x") is None


def test_search_by_prefix_and_filters(items):
    for i in range(6):
        items.put(("docs", "team" if i % 2 else "solo"), f"d{i}", {"n": i, "kind": "note"})
    items.put(("other",), "x", {"n": 100})
    assert {i.key for i in items.search(("docs",), limit=50)} == {f"d{i}" for i in range(6)}
    assert {i.key for i in items.search(("docs", "team"))} == {"d1", "d3", "d5"}
    assert {i.key for i in items.search(("docs",), filter={"n": {"$gte": 4}})} == {"d4", "d5"}
    assert {i.key for i in items.search(("docs",), filter={"n": 2, "kind": "note"})} == {"d2"}
    assert {i.key for i in items.search(("docs",), filter={"n": {"$ne": 0, "$lt": 2}})} == {"d1"}
    assert len(items.search((), limit=3)) == 3
    assert len(items.search((), limit=100, offset=5)) == 2


def test_list_namespaces(items):
    for ns in [("a", "x", "1"), ("a", "y"), ("b", "x"), ("b", "y", "v1")]:
        items.put(ns, "k", {"v": 1})
    assert items.list_namespaces() == [("a", "x", "1"), ("a", "y"), ("b", "x"), ("b", "y", "v1")]
    assert items.list_namespaces(prefix=("a",)) == [("a", "x", "1"), ("a", "y")]
    assert items.list_namespaces(suffix=("x",)) == [("b", "x")]
    assert items.list_namespaces(prefix=("*", "y")) == [("a", "y"), ("b", "y", "v1")]
    assert items.list_namespaces(max_depth=1) == [("a",), ("b",)]
    assert items.list_namespaces(limit=2, offset=1) == [("a", "y"), ("b", "x")]


def test_a_batch_reads_first_and_commits_its_puts_once(items, store):
    items.put(("n",), "old", {"v": 0})
    before = store.changes()[-1].seq
    results = items.batch(
        [
            PutOp(("n",), "a", {"v": 1}),
            GetOp(("n",), "old"),
            PutOp(("n",), "b", {"v": 2}),
            PutOp(("n",), "old", None),
            SearchOp(("n",)),
            ListNamespacesOp(),
        ]
    )
    assert results[1].value == {"v": 0}  # read before the batch's own puts
    assert [r.key for r in results[4]] == ["old"]
    assert results[5] == [("n",)]
    assert {c.seq for c in store.changes(since=before)} == {before + 1}  # one commit
    assert {i.key for i in items.search(("n",))} == {"a", "b"}


def test_semantic_search_ranks_by_cosine_similarity(store):
    items = StoreBackedStore(store, index={"dims": 5, "embed": letters, "fields": ["text"]})
    items.put(("docs",), "vowels-a", {"text": "banana salad"})
    items.put(("docs",), "vowels-o", {"text": "oolong tofu"})
    items.put(("docs",), "unindexed", {"text": "aaaa"}, index=False)
    ranked = items.search(("docs",), query="a bag of apples and a banana")
    assert [r.key for r in ranked][:2] == ["vowels-a", "vowels-o"]
    assert ranked[0].score > ranked[1].score
    assert ranked[-1].key == "unindexed" and ranked[-1].score is None


def test_async_twins(items):
    async def main():
        await items.aput(("a",), "k", {"v": 1})
        got = await items.aget(("a",), "k")
        found = await items.asearch(("a",))
        spaces = await items.alist_namespaces()
        await items.adelete(("a",), "k")
        return got.value, [f.key for f in found], spaces, await items.aget(("a",), "k")

    assert asyncio.run(main()) == ({"v": 1}, ["k"], [("a",)], None)


def test_non_json_values_are_refused_and_nothing_is_written(items, store):
    with pytest.raises(cs.ValidationError):
        items.put(("a",), "k", {"when": object()})
    assert store.count(ITEMS) == 0


def test_items_survive_reopening(persistent_url):
    with cs.open(persistent_url) as s:
        StoreBackedStore(s).put(("keep",), "k", {"v": [1, 2]})
    with cs.open(persistent_url) as s:
        assert StoreBackedStore(s).get(("keep",), "k").value == {"v": [1, 2]}
