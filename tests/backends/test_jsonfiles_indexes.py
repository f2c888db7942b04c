"""Indexes on the JSON-files backend: answers identical with and without them (also as
commits arrive from this store and through the log), unique indexes refusing duplicates in
single writes and transactions and across stores, persistence across reopen, top-k."""

from __future__ import annotations

import random

import pytest

import conductor_store as cs
from conductor_store import ConflictError
from conductor_store.backends.base import IndexSpec
from conductor_store.query import compile_query

VALUES = ["ok", "failed", "x", "", None, 0, 1, 1.0, 2.5, -3, True, False, [1], {"a": 1}]


@pytest.fixture
def root(tmp_path):
    return tmp_path / "data"


def random_doc(rng: random.Random) -> dict:
    doc = {
        "status": rng.choice(VALUES[:5] + [1, True]),
        "seq": rng.choice([rng.randrange(50), rng.randrange(50) / 2, "s", None]),
        "g": rng.randrange(5),
        "m": {"x": rng.choice(VALUES)} if rng.random() < 0.8 else "flat",
    }
    if rng.random() < 0.1:
        del doc["status"]
    return doc


def _value(rng: random.Random):
    return rng.choice(["ok", "failed", "x", 0, 1, 1.0, 2.5, 10, 25, True, False, "s"])


def random_query(rng: random.Random):
    fields = ["status", "seq", "g", "m.x"]
    conj = []
    for _ in range(rng.randrange(0, 4)):
        f = rng.choice(fields)
        kind = rng.randrange(5)
        if kind == 0:
            conj.append(f"{f} = :p{len(conj)}")
        elif kind == 1:
            conj.append(f"{f} {rng.choice(['<', '<=', '>', '>='])} :p{len(conj)}")
        elif kind == 2:
            conj.append(f"{f} IN :p{len(conj)}")
        elif kind == 3:
            conj.append(f"{f} IS NULL")
        else:
            conj.append(f"NOT {f} = :p{len(conj)}")
    params = {}
    for i, text in enumerate(conj):
        if f":p{i}" in text:
            params[f"p{i}"] = (
                [_value(rng) for _ in range(rng.randrange(1, 4))] if " IN " in text else _value(rng)
            )
    where = " AND ".join(conj) or None
    order = rng.choice([None, "seq", "-seq", ["g", "seq"], ["-g", "-seq"], ["g", "-seq"], "m.x"])
    limit = rng.choice([None, 1, 3, 10])
    offset = rng.choice([0, 0, 2])
    return compile_query(where, params, order, limit, offset)


def reference(backend, table, query):
    """The un-indexed answer: the query layer over a full scan."""
    return query.apply(backend.scan(table))


def check_agree(backend, rng, n=150):
    for _ in range(n):
        q = random_query(rng)
        want = reference(backend, "t", q)
        assert backend.find("t", q) == want, q
        assert backend.count("t", q) == len(reference(backend, "t", q.unsliced())), q


def test_indexed_and_unindexed_answers_agree(root):
    rng = random.Random(5)
    with cs.open(str(root)) as s, cs.open(str(root)) as other:
        with s.transaction() as tx:
            for i in range(200):
                tx.put("t", f"r{i:03d}", random_doc(rng))
        b = s.backend
        check_agree(b, rng)  # no index yet
        for fields in (("status",), ("seq",), ("g", "seq"), ("m.x",), ("status", "g")):
            b.ensure_index(IndexSpec("t", fields))
        check_agree(b, rng)
        # commits keep the indexes current: from this store, and from another one (the log)
        for i in range(60):
            writer = s if i % 2 else other
            op = rng.randrange(3)
            rid = f"r{rng.randrange(220):03d}"
            if op == 0:
                writer.delete("t", rid)
            else:
                writer.put("t", rid, random_doc(rng))
        check_agree(b, rng)
        check_agree(other.backend, rng, 50)  # the other store learns of them from the file


def test_top_k_without_an_index_equals_a_full_sort(root):
    rng = random.Random(9)
    with cs.open(str(root)) as s:
        with s.transaction() as tx:
            for i in range(120):
                tx.put("t", f"r{i:03d}", random_doc(rng))
        for order in ("seq", "-seq", ["-g", "seq"], ["g", "-m.x"]):
            for limit, offset in ((1, 0), (5, 3), (200, 0)):
                q = compile_query(None, None, order, limit, offset)
                assert s.backend.find("t", q) == reference(s.backend, "t", q)


def test_unique_index_refuses_duplicates(root):
    with cs.open(str(root)) as s, cs.open(str(root)) as other:
        s.insert("users", {"email": "a@x"}, id="a")
        s.insert("users", {"email": "b@x"}, id="b")
        s.backend.ensure_index(IndexSpec("users", ("email",), unique=True))
        with pytest.raises(ConflictError) as exc:
            s.insert("users", {"email": "a@x"}, id="c")
        assert "users:a" in str(exc.value)
        assert s.get("users", "c") is None
        with pytest.raises(ConflictError):  # within one transaction
            with s.transaction() as tx:
                tx.insert("users", {"email": "new@x"}, id="d")
                tx.insert("users", {"email": "new@x"}, id="e")
        assert s.get("users", "d") is None and s.get("users", "e") is None
        with pytest.raises(ConflictError):  # another store, opened before the index existed
            other.update("users", "b", {"email": "a@x"})
        assert other.get("users", "b")["email"] == "b@x"
        with s.transaction() as tx:  # swapping values in one commit is fine
            tx.update("users", "a", {"email": "b@x"})
            tx.update("users", "b", {"email": "a@x"})
        s.delete("users", "a")  # a deleted record's value is free again
        s.insert("users", {"email": "b@x"}, id="f")
        s.insert("users", {"name": "no email"}, id="g")  # missing and NULL: not constrained
        s.insert("users", {"name": "no email either", "email": None}, id="h")
        s.insert("users", {"email": None}, id="i")
        assert sorted(d["id"] for d in s.find("users")) == ["b", "f", "g", "h", "i"]


def test_a_unique_index_over_duplicates_is_refused(root):
    with cs.open(str(root)) as s:
        s.insert("t", {"k": 1}, id="a")
        s.insert("t", {"k": 1.0}, id="b")  # 1 = 1.0
        with pytest.raises(ConflictError):
            s.backend.ensure_index(IndexSpec("t", ("k",), unique=True))
        assert s.backend.indexes() == []
        s.backend.ensure_index(IndexSpec("t", ("k",)))
        assert s.backend.indexes() == [IndexSpec("t", ("k",), False)]


def test_indexes_persist_and_every_store_sees_them(root):
    with cs.open(str(root)) as s, cs.open(str(root)) as other:
        s.backend.ensure_index(IndexSpec("t", ("a", "b")))
        s.backend.ensure_index(IndexSpec("t", ("a", "b")))  # idempotent
        s.backend.ensure_index(IndexSpec("u", ("k",), unique=True))
        assert other.backend.indexes() == s.backend.indexes()
    with cs.open(str(root)) as again:
        assert again.backend.indexes() == [
            IndexSpec("t", ("a", "b"), False),
            IndexSpec("u", ("k",), True),
        ]


def test_index_fields_may_be_dotted_strings_or_paths(root):
    with cs.open(str(root)) as s:
        s.insert("t", {"m": {"x": 1}}, id="a")
        s.insert("t", {"m": {"x": 2}}, id="b")
        s.backend.ensure_index(IndexSpec("t", (("m", "x"),)))
        s.backend.ensure_index(IndexSpec("t", ("m.x",)))  # the same index
        assert s.backend.indexes() == [IndexSpec("t", ("m.x",), False)]
        assert [d["id"] for d in s.backend.find("t", compile_query({"m.x": 2}))] == ["b"]


def test_an_index_answers_the_same_before_and_after_it_is_sorted():
    """A table loaded whole leaves its indexes unsorted until a range or an order needs them
    (equality goes through the hash map meanwhile); commits keep both forms right."""
    from conductor_store.backends.base import IndexSpec
    from conductor_store.backends.jsonfiles.indexes import Index, plan
    from conductor_store.query import compile_query

    docs = {f"r{i:03d}": {"s": ["a", "b", 1, 1.0, None][i % 5]} for i in range(60)}
    lazy, eager = Index(IndexSpec("t", ("s",))), Index(IndexSpec("t", ("s",)))
    lazy.build(docs)
    eager.build(docs)
    assert eager.items  # sorted now
    wheres = ["s = 'a'", "s = 1", "s IN ('a', 1)", "s IS NULL", "s > 'a'"]

    def answers(index):
        out = []
        for w in wheres:
            p = plan(index, compile_query(w).where)
            out.append((list(index.ranges(p.bounds)), index.count(p.bounds)))
        return out

    assert answers(lazy) == answers(eager)
    unsorted = Index(IndexSpec("t", ("s",)))
    unsorted.build(docs)
    for index in (lazy, eager, unsorted):
        index.put("r000", {"s": "b"})
        index.drop("r001")
        index.put("new", {"s": "a"})
    assert lazy._items is not None and unsorted._items is None  # only a range sorts
    fresh = Index(IndexSpec("t", ("s",)))
    fresh.build(
        {**{k: v for k, v in docs.items() if k != "r001"}, "r000": {"s": "b"}, "new": {"s": "a"}}
    )
    assert answers(unsorted) == answers(lazy) == answers(eager) == answers(fresh)
    assert lazy.items == eager.items == fresh.items == unsorted.items
