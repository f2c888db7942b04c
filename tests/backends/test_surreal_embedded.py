"""SurrealDB-specific behaviour of the embedded backends (mem://, surrealkv://).

Promises of the shared API live in the conformance suite; this file checks what only these
backends do: the SDK traps and how each maps to the library's errors, options, the
SURREAL_SYNC_DATA interplay, the lock between processes, engine sharing, imports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

import conductor_store as cs
from conductor_store.backends.base import Write
from conductor_store.backends.surreal.backend import SurrealBackend, Transport
from tests.support import ROOT


def run_child(
    code: str, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "SURREAL_SYNC_DATA"}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def mem():
    with cs.open("mem://") as store:
        yield store


# -- imports ---------------------------------------------------------------------------------
def test_import_does_not_load_surrealdb():
    out = run_child(
        """
        import sys, conductor_store
        from conductor_store.backends import lookup
        heavy = ('surrealdb', 'websockets')
        print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))
    """.replace("import sys,", "import json, sys,")
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


# -- the SDK traps, each mapped to the library's errors ---------------------------------------
def test_json_null_is_stored_as_null_not_none(mem):
    """The SDK encodes None as NONE, which deletes the field; our codec sends NULL."""
    mem.insert("t", {"a": None, "n": {"b": None}, "l": [None, 1]}, id="x")
    assert mem.get("t", "x") == {
        "id": "x",
        "_version": 1,
        "a": None,
        "n": {"b": None},
        "l": [None, 1],
    }
    assert mem.find("t", "a IS NULL") != [] and mem.count("t", {"a": None}) == 1


def test_failure_in_a_later_statement_is_not_ignored(mem):
    """SDK query() looks only at the first statement: here the failing one is the third."""
    mem.insert("t", {"v": 1}, id="a")
    with pytest.raises(cs.NotFoundError, match="t:missing"):
        mem.backend.commit(
            [
                Write("put", "t", "b", {"v": 2}),
                Write("merge", "t", "a", {"v": 3}),
                Write("merge", "t", "missing", {"v": 4}),
            ],
            {},
        )
    assert mem.get("t", "b") is None and mem.get("t", "a")["v"] == 1  # nothing written
    assert [c.seq for c in mem.changes()] == [1]


def test_duplicate_create_is_a_conflict_not_an_internal_error(mem):
    mem.insert("t", {}, id="a")
    with pytest.raises(cs.ConflictError, match="t:a already exists"):
        mem.insert("t", {}, id="a")


def test_update_of_missing_record_is_not_found(mem):
    """The SDK's update()/merge() of a missing record silently returns []."""
    with pytest.raises(cs.NotFoundError):
        mem.update("t", "nope", {"a": 1})
    assert mem.tables() == [] and mem.changes() == []


def test_syntax_error_becomes_store_error_not_runtime_error(mem):
    with pytest.raises(cs.StoreError, match="Parse error"):
        mem.backend._query("SELEC nonsense", {}, "test")


@pytest.mark.parametrize("rid", ["1", "a:b", "x-y.z", "T_9", "123.5", "a..b"])
def test_ids_are_bound_never_spliced(mem, rid):
    """The SDK pastes string ids into query text; ours are bound as record ids, so an id like
    ``1`` stays the string "1" and ``a:b`` is one id, not a table and key."""
    mem.insert("t", {"v": rid}, id=rid)
    assert mem.get("t", rid) == {"id": rid, "_version": 1, "v": rid}
    assert mem.find("t", {"id": rid}) == [mem.get("t", rid)]
    assert [c.id for c in mem.changes()] == [rid]


def test_merge_is_shallow_unlike_surrealql_merge(mem):
    mem.insert("t", {"m": {"a": 1}, "k": 1}, id="x")
    assert mem.update("t", "x", {"m": {"b": 2}})["m"] == {"b": 2}


class _ConflictingTransport(Transport):
    """Answers commits with the engine's retryable conflict ``failures`` times."""

    def __init__(self, inner: Transport, failures: int) -> None:
        self.inner, self.failures, self.commits = inner, failures, 0

    def run(self, sql, vars, *, idempotent=True):
        if "COMMIT TRANSACTION" in sql:
            self.commits += 1
            if self.failures:
                self.failures -= 1
                return [
                    {
                        "status": "ERR",
                        "result": "Failed to commit transaction due to a read or "
                        "write conflict. This transaction can be retried",
                    }
                ]
        return self.inner.run(sql, vars, idempotent=idempotent)


@pytest.mark.parametrize("failures, outcome", [(3, "ok"), (100_000, "conflict")])
def test_engine_conflicts_are_retried_then_reported(mem, failures, outcome, monkeypatch):
    """Engine conflicts are retried with back-off until the commit goes through, or until
    the retry deadline (shortened here from 30 s) passes: then ConflictError, nothing written."""
    from conductor_store.backends.surreal import backend as surreal_backend
    from conductor_store.retry import RetryPolicy

    monkeypatch.setattr(
        surreal_backend, "COMMIT_RETRY", RetryPolicy(attempts=None, cap=0.01, deadline=0.5)
    )
    backend: SurrealBackend = mem.backend
    fake = _ConflictingTransport(backend._t, failures)
    backend._t = fake
    try:
        if outcome == "ok":
            assert mem.insert("t", {"v": 1}, id="a")["_version"] == 1
            assert fake.commits == 4 and backend.engine_retries == 3
        else:
            with pytest.raises(cs.ConflictError, match="conflicts with concurrent commits"):
                mem.insert("t", {"v": 1}, id="a")
            assert mem.get("t", "a") is None
    finally:
        backend._t = fake.inner


# -- options and naming --------------------------------------------------------------------------
def test_unknown_options_are_named():
    with pytest.raises(cs.ValidationError, match="colour, size"):
        cs.open("mem://", size=1, colour="red")
    with pytest.raises(cs.ValidationError, match=r"unknown URL parameter\(s\): x"):
        cs.open("mem://?x=1")
    with pytest.raises(cs.ValidationError, match="user"):
        cs.open("mem://", user="root")


def test_namespace_and_database_from_options_env_and_project(monkeypatch):
    monkeypatch.setenv("SURREAL_NAMESPACE", "envns")
    monkeypatch.setenv("SURREAL_DATABASE", "envdb")
    with cs.open("mem://") as s:
        assert (s.info()["namespace"], s.info()["database"]) == ("envns", "envdb")
    with cs.open("mem://", namespace="opt", database="odb") as s:
        assert (s.info()["namespace"], s.info()["database"]) == ("opt", "odb")
    with cs.open("mem://", project="alpha") as s:  # a project is its own database
        assert (s.info()["namespace"], s.info()["database"]) == ("envns", "alpha")
    with cs.open("mem://?ns=u&db=v") as s:
        assert (s.info()["namespace"], s.info()["database"]) == ("u", "v")


def test_named_memory_store_is_shared_in_process_and_freed_after_close():
    a = cs.open("mem://shared-test")
    b = cs.open("mem://shared-test")
    a.insert("t", {}, id="x")
    assert b.get("t", "x") is not None and b.info()["shared"] is True
    a.close()
    assert b.get("t", "x") is not None  # still open through b
    b.close()
    with cs.open("mem://shared-test") as c:
        assert c.get("t", "x") is None
    with cs.open("mem://") as d:  # unnamed: private
        assert d.get("t", "x") is None


def test_internal_tables_are_hidden(mem):
    mem.insert("t", {}, id="x")
    mem.delete("t", "x")
    mem.insert("u", {}, id="y")
    assert mem.tables() == ["u"]


# -- on disk: sharing, locking, durability ---------------------------------------------------------
def test_two_opens_of_one_path_share_one_engine(tmp_path):
    url = f"surrealkv://{tmp_path}/db"
    a, b = cs.open(url), cs.open(url, project="other")
    try:
        a.insert("t", {"v": 1}, id="x")
        assert b.get("t", "x") is None  # another project = another database
        assert a.backend._t.engine is b.backend._t.engine and a.info()["shared_engine_opens"] == 2
    finally:
        a.close()
        b.close()


CHILD_HOLD = """
import sys, conductor_store as cs
s = cs.open(sys.argv[1])
s.insert("t", {"from": "child"}, id="c")
print("ready", flush=True)
sys.stdin.readline()
s.close()
"""


def test_second_process_gets_a_clear_error_not_a_second_engine(tmp_path):
    url = f"surrealkv://{tmp_path}/db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_HOLD, url],
        cwd=ROOT,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        start = time.monotonic()
        with pytest.raises(cs.BackendUnavailableError, match="open in another process"):
            cs.open(url)
        assert time.monotonic() - start < 2  # does not wait for the lock
    finally:
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(30)
        child.stdout.close()
        child.stderr.close()
    with cs.open(url) as s:  # the child closed it: ours now, with its data
        assert s.get("t", "c")["from"] == "child"


def test_lock_is_released_when_the_holder_dies(tmp_path):
    url = f"surrealkv://{tmp_path}/db"
    out = run_child(f"""
        import os, conductor_store as cs
        s = cs.open({url!r}); s.insert("t", {{}}, id="a")
        os._exit(0)  # no close(): the OS drops the lock
    """)
    assert out.returncode == 0, out.stderr
    with cs.open(url) as s:
        assert s.get("t", "a") is not None


def test_durable_by_default_sets_sync_before_the_engine_starts(tmp_path):
    out = run_child(f"""
        import os, json, conductor_store as cs
        s = cs.open("surrealkv://{tmp_path}/db")
        print(json.dumps([os.environ.get("SURREAL_SYNC_DATA"), s.info()["durable"]]))
    """)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["true", True]


def test_durable_after_non_durable_in_one_process_is_refused(tmp_path):
    out = run_child(f"""
        import conductor_store as cs
        fast = cs.open("surrealkv://{tmp_path}/fast", durable=False)
        print(fast.info()["durable"])
        try:
            cs.open("surrealkv://{tmp_path}/safe")
        except cs.BackendUnavailableError as e:
            print("refused:", e)
    """)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "False"
    assert second.startswith("refused:") and "SURREAL_SYNC_DATA" in second


def test_memory_store_first_keeps_later_disk_stores_durable(tmp_path):
    out = run_child(f"""
        import conductor_store as cs
        cs.open("mem://").close()
        fast = cs.open("surrealkv://{tmp_path}/a", durable=False)  # allowed; fsyncs anyway
        safe = cs.open("surrealkv://{tmp_path}/b")
        print(fast.info()["durable"], safe.info()["durable"])
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


def test_explicit_env_false_means_not_durable(tmp_path):
    out = run_child(
        f"""
        import conductor_store as cs
        print(cs.open("surrealkv://{tmp_path}/db").info()["durable"])
    """,
        env={"SURREAL_SYNC_DATA": "false"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_durable_store_fsyncs_every_commit(tmp_path):
    """Measured with strace: a durable store syncs at least once per commit; durable=False
    syncs far less."""
    counts = {}
    for durable in (True, False):
        script = (
            f"import conductor_store as cs\n"
            f"s = cs.open('surrealkv://{tmp_path}/d{int(durable)}', durable={durable})\n"
            f"for i in range(50): s.insert('t', {{'i': i}})\n"
            f"s.close()\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "SURREAL_SYNC_DATA"}
        env["PYTHONPATH"] = str(ROOT)
        out = subprocess.run(
            ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0 and "ptrace" in out.stderr.lower():
            pytest.skip("ptrace not permitted here")
        assert out.returncode == 0, out.stderr[-2000:]
        counts[durable] = sum(
            int(line.split()[3])
            for line in out.stderr.splitlines()
            if line.strip().endswith(("fsync", "fdatasync")) and len(line.split()) >= 5
        )
    assert counts[True] >= 50, counts
    assert counts[False] < counts[True] / 2, counts


def test_nearest_push_down_agrees_with_the_python_default():
    """The engine scores (vector::similarity::cosine) the records a where selects: the same
    records, order and scores as the Backend default over a scan, on vectors of every kind
    (wrong length, zeros, non-numbers, missing)."""
    import random

    from conductor_store.backends.base import Backend
    from conductor_store.query import compile_query

    rng = random.Random(4)
    with cs.open("mem://") as store:
        with store.transaction() as tx:
            for i in range(120):
                v = [rng.choice([0, 1, -2, 0.5, 3]) for _ in range(rng.choice([3, 3, 3, 2]))]
                doc = {"kind": rng.choice("ab"), "emb": {"v": v}}
                if i % 17 == 0:
                    doc["emb"] = {"v": ["x", 1, 2]}
                if i % 19 == 0:
                    doc.pop("emb")
                tx.insert("docs", doc, id=f"d{i:03}")
        backend = store.backend
        for where in (None, "kind = 'a'"):
            query = compile_query(where) if where else None
            for probe in ([1, 0, 0], [0.5, -1, 2], [3, 3, 3]):
                pushed = backend.nearest("docs", "emb.v", probe, 7, query)
                default = Backend.nearest(backend, "docs", "emb.v", probe, 7, query)
                assert [(d["id"], round(s, 9)) for d, s in pushed] == [
                    (d["id"], round(s, 9)) for d, s in default
                ]
                assert len(pushed) == 7
