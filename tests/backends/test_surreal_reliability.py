"""Issue 8's findings on the embedded SurrealDB backends, one regression test each: private
stores, file descriptors released by close(), queries whose cost stays linear in their text,
limits beyond 64 bits. (Disk full and a torn engine log: ``test_surreal_faults.py``.)"""

from __future__ import annotations

import gc
import os
import stat

import pytest

import conductor_store as cs
from conductor_store.backends.surreal import surql
from conductor_store.query import compile_query


@pytest.fixture(params=["mem", "kv"])
def url(request, tmp_path):
    return "mem://" if request.param == "mem" else f"surrealkv://{tmp_path}/data"


def test_surrealkv_stores_are_private(tmp_path):
    path = tmp_path / "data"
    with cs.open(f"surrealkv://{path}") as store:
        for i in range(50):
            store.insert("t", {"i": i, "pad": "x" * 200})
    modes = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            modes[full] = stat.S_IMODE(os.stat(full).st_mode)
    modes[str(path)] = stat.S_IMODE(os.stat(path).st_mode)
    modes[f"{path}.lock"] = stat.S_IMODE(os.stat(f"{path}.lock").st_mode)
    assert any(os.path.isfile(p) for p in modes) and len(modes) > 3
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o700 if os.path.isdir(p) else 0o600)}
    assert wrong == {}


def test_a_store_made_public_by_an_earlier_version_becomes_private_on_open(tmp_path):
    path = tmp_path / "data"
    with cs.open(f"surrealkv://{path}") as store:
        store.insert("t", {}, id="a")
    for root, _dirs, files in os.walk(path):
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    os.chmod(path, 0o755)
    with cs.open(f"surrealkv://{path}") as store:
        assert store.get("t", "a") is not None
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")
def test_close_releases_every_file_descriptor_at_once(url):
    """Garbage collection is off: close() itself must give back what the open took."""
    with cs.open(url) as warm:  # the engine's runtime threads start once per process
        warm.insert("t", {}, id="warm")
    gc.collect()
    gc.disable()
    try:
        before = _fds()
        for i in range(40):
            store = cs.open(url)
            store.insert("t", {"i": i})
            store.find("t", {"i": i})
            store.close()
        leaked = _fds() - before
    finally:
        gc.enable()
    assert leaked <= 0, f"{leaked} file descriptors stayed open after 40 open/close cycles"


def test_limit_and_offset_beyond_64_bits_mean_all(url):
    with cs.open(url) as store:
        for i in range(5):
            store.insert("t", {"n": i}, id=f"r{i}")
        assert len(store.find("t", limit=2**64)) == 5
        assert [d["n"] for d in store.find("t", order_by="n", limit=2**64, offset=2)] == [2, 3, 4]
        assert store.find("t", limit=2**64, offset=2**64) == []
        assert store.find("t", order_by="-n", offset=2**63) == []


def _python(store, table, where):
    query = compile_query(where)
    return [doc for doc in query.apply(store.backend.scan(table))]


@pytest.mark.parametrize(
    "where",
    [
        " OR ".join(f"status = 's{i}'" for i in range(3000)),
        " OR ".join(f"n = {i} OR status = 'q{i}'" for i in range(1500)),
        " AND ".join(f"n != {i + 100}" for i in range(3000)),
        " OR ".join(f"(n = {i} AND status = 's{i}')" for i in range(1500)),
        " OR ".join(f"m.k > {i + 40}" for i in range(3000)),
    ],
    ids=["or-equalities", "or-two-fields", "and-not-equal", "or-of-ands", "or-ranges"],
)
def test_a_where_of_thousands_of_terms_answers_like_python(url, where):
    """It used to fail with "excessive computation depth" (and take 30 s at 3,000 ORs)."""
    with cs.open(url) as store:
        for i in range(60):
            store.insert("t", {"status": f"s{i}", "n": i, "m": {"k": i}}, id=f"r{i:02}")
        store.insert("t", {"status": None}, id="z")
        expected = _python(store, "t", where)
        assert store.find("t", where) == expected
        assert store.count("t", where) == len(expected)
        assert len(expected) > 0 or "ranges" in where


def test_equalities_on_one_field_become_one_in_and_big_trees_stay_shallow():
    query = compile_query(" OR ".join(f"status = 's{i}'" for i in range(3000)))
    assert surql.leaves(query.where) == 1
    vars: dict = {"tb": "t"}
    sql = surql.select(query, surql.Params(vars))
    assert " IN $p1" in sql and len(vars) == 2 and len(vars["p1"]) == 3000
    wide = compile_query(" OR ".join(f"a{i} = {i}" for i in range(50)))
    sql = surql.where_clause(wide, surql.Params({}))
    # the engine nests a chain "x OR y OR z ..." one level per operator: no group may hold
    # more than a few ORs side by side (a flat join would hold 49)
    groups: list = [0]
    widest = 0
    for token in sql.replace("(", " ( ").replace(")", " ) ").split():
        if token == "(":
            groups.append(0)
        elif token == ")":
            groups.pop()
        elif token == "OR":
            groups[-1] += 1
            widest = max(widest, groups[-1])
    assert 1 <= widest <= 8


@pytest.mark.parametrize("doc", [{"a": "x\x00y"}, {"k\x00": 1}, {"n": {"deep": ["\x00"]}}])
def test_a_nul_character_is_refused_and_poisons_nothing(url, doc):
    """The engine stored such a string, then failed every read of the record or the table."""
    with cs.open(url) as store:
        store.insert("t", {"v": 1}, id="a")
        with pytest.raises(cs.ValidationError, match="NUL"):
            store.insert("t", doc, id="n")
        with pytest.raises(cs.ValidationError, match="NUL"):
            store.update("t", "a", doc)
        assert store.get("t", "n") is None and store.find("t") == [store.get("t", "a")]
        assert [c.seq for c in store.changes()] == [1]
