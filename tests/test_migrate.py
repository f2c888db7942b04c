"""Migration between stores (conductor_store.migrate), on real backends."""

from __future__ import annotations

import io
import itertools
import json
import os
import uuid

import pytest

import conductor_store as cs
from conductor_store import portable
from conductor_store.migrate import MigrationError, core, from_conductor, migrate, migrate_all
from conductor_store.migrate.journal import RunState, run_name

KINDS = ("json", "mem", "surrealkv", "remote")
SERVERS: list = []


@pytest.fixture(scope="module")
def servers():
    """Two loopback SurrealDB servers (remote -> remote needs two places)."""
    from tests.support import LoopbackServer

    started = [LoopbackServer().start(), LoopbackServer().start()]
    SERVERS[:] = started
    yield started
    for server in started:
        server.kill()
    SERVERS.clear()


def make_url(kind: str, tmp_path, tag: str) -> str:
    if kind == "remote":
        server = SERVERS[0 if tag == "s" else 1]
        return f"ws://root:secret@127.0.0.1:{server.port}"
    if kind == "json":
        return f"json://{tmp_path}/{tag}-json"
    if kind == "surrealkv":
        return f"surrealkv://{tmp_path}/{tag}-kv"
    return f"mem://{tag}-{uuid.uuid4().hex[:8]}"


def fill(store, n=120):
    """Records with every JSON kind, in three tables, over several commits."""
    with store.transaction() as tx:
        for i in range(n):
            tx.insert(
                "tasks",
                {
                    "n": i,
                    "ratio": i / 7,
                    "title": f"tâche {i} ✓",
                    "tags": ["a", i, None, 1.5],
                    "meta": {"nested": {"ok": i % 2 == 0}, "empty": {}},
                    "done": None,
                },
                id=f"T{i:04d}",
            )
    store.insert("audit_entries", {"agent": "claude", "cost_usd": 0.25}, id="a-1")
    store.put("workflow_state", "state", {"phase": 3, "created_at": "2026-01-02T03:04:05Z"})
    store.update("tasks", "T0001", {"status": "done"})


def export_text(store) -> str:
    buf = io.StringIO()
    portable.export(store, buf)
    return buf.getvalue()


def records_of(text: str) -> list[str]:
    return text.splitlines()[1:]


@pytest.fixture
def state_dir(tmp_path):
    return str(tmp_path / "state")


@pytest.mark.parametrize("src_kind,dst_kind", list(itertools.product(KINDS, KINDS)))
def test_every_pair_copies_every_record(tmp_path, state_dir, src_kind, dst_kind, request):
    if "remote" in (src_kind, dst_kind):
        request.getfixturevalue("servers")
    project = f"p{uuid.uuid4().hex[:8]}"  # a fresh database on the servers for every test
    src_url, dst_url = make_url(src_kind, tmp_path, "s"), make_url(dst_kind, tmp_path, "d")
    # mem:// lives while one store holds it open: keep both open for the whole test
    with cs.open(src_url, project=project) as src, cs.open(dst_url, project=project) as dst:
        fill(src)
        report = migrate(
            src_url, dst_url, project=project, verify=True, batch_size=50, state_dir=state_dir
        )
        assert report["written"] == 122 and report["unchanged"] == 0
        assert all(check["match"] for check in report["verify"])
        assert records_of(export_text(dst)) == records_of(export_text(src))
        assert report["source_position"] == portable.last_seq(src)
        assert report["target_position"] == portable.last_seq(dst) > 0
    assert not os.listdir(state_dir)  # a finished run leaves no state behind


def test_round_trip_json_mem_surrealkv_json_exports_identical_bytes(tmp_path, state_dir):
    first, last = f"json://{tmp_path}/a", f"json://{tmp_path}/z"
    mem, kv = make_url("mem", tmp_path, "m"), f"surrealkv://{tmp_path}/kv"
    with cs.open(first, project="p") as a, cs.open(mem, project="p"):
        fill(a)
        for src, dst in ((first, mem), (mem, kv), (kv, last)):
            migrate(src, dst, project="p", verify=True, state_dir=state_dir)
        original = export_text(a)
    with cs.open(last, project="p") as z:
        final = export_text(z)
    assert records_of(final) == records_of(original)
    head_a, head_z = json.loads(original.splitlines()[0]), json.loads(final.splitlines()[0])
    assert head_a["tables"] == head_z["tables"] and head_a["format"] == head_z["format"]


def test_round_trip_json_mem_surrealkv_remote_json(tmp_path, state_dir, servers):
    """The issue's chain, remote included: the last export is the first one's bytes."""
    first, last = f"json://{tmp_path}/a", f"json://{tmp_path}/z"
    mem, kv = make_url("mem", tmp_path, "m"), f"surrealkv://{tmp_path}/kv"
    remote = make_url("remote", tmp_path, "s")
    project = f"rt{uuid.uuid4().hex[:8]}"
    with cs.open(first, project=project) as a, cs.open(mem, project=project):
        fill(a)
        for src, dst in ((first, mem), (mem, kv), (kv, remote), (remote, last)):
            migrate(src, dst, project=project, verify=True, state_dir=state_dir)
        original = export_text(a)
    with cs.open(last, project=project) as z:
        assert records_of(export_text(z)) == records_of(original)


def snapshot(root) -> dict:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


@pytest.mark.parametrize("dst_kind", ["json", "surrealkv"])
def test_dry_run_leaves_the_target_byte_identical(tmp_path, state_dir, dst_kind):
    src_url, dst_url = f"json://{tmp_path}/src", make_url(dst_kind, tmp_path, "d")
    with cs.open(src_url, project="p") as src:
        fill(src)
    with cs.open(dst_url, project="p") as dst:
        dst.insert("tasks", {"mine": True}, id="T0003")
    before = snapshot(str(tmp_path / os.path.basename(dst_url.split("://")[1])))
    report = migrate(src_url, dst_url, project="p", dry_run=True, merge=True, state_dir=state_dir)
    after = snapshot(str(tmp_path / os.path.basename(dst_url.split("://")[1])))
    assert after == before
    assert not os.path.exists(state_dir)
    rows = {r["table"]: r for r in report["tables"]}
    assert rows["tasks"]["records"] == 120 and rows["tasks"]["write"] == 120
    assert rows["tasks"]["bytes"] > 120 * 50
    assert report["problems"] == []


def test_dry_run_names_a_non_empty_target(tmp_path, state_dir):
    with (
        cs.open(f"json://{tmp_path}/s", project="p") as s,
        cs.open(f"json://{tmp_path}/d", project="p") as d,
    ):
        fill(s, 3)
        d.insert("tasks", {"x": 1}, id="other")
    report = migrate(
        f"json://{tmp_path}/s", f"json://{tmp_path}/d", project="p", dry_run=True,
        state_dir=state_dir,
    )  # fmt: skip
    assert any("not empty" in p for p in report["problems"])


def test_a_non_empty_target_is_refused_without_merge(tmp_path, state_dir):
    src, dst = f"json://{tmp_path}/s", f"json://{tmp_path}/d"
    with cs.open(src, project="p") as s, cs.open(dst, project="p") as d:
        fill(s, 3)
        d.insert("tasks", {"x": 1}, id="other")
    with pytest.raises(MigrationError, match="not empty.*--merge"):
        migrate(src, dst, project="p", state_dir=state_dir)
    report = migrate(src, dst, project="p", merge=True, state_dir=state_dir)
    assert report["written"] == 5  # 3 tasks, 1 audit entry, 1 state
    again = migrate(src, dst, project="p", merge=True, state_dir=state_dir)
    assert again["written"] == 0 and again["unchanged"] == 5  # a second run changes nothing


class Boom(Exception):
    pass


def test_failure_mid_way_rolls_the_target_back(tmp_path, state_dir):
    src, dst = f"json://{tmp_path}/s", f"surrealkv://{tmp_path}/d"
    with cs.open(src, project="p") as s:
        fill(s)
    with cs.open(dst, project="p") as d:  # the target holds records the run will overwrite
        d.put("tasks", "T0005", {"theirs": True})
        d.put("notes", "n1", {"keep": "me"})
        before = export_text(d)
    calls = []

    def fail_on_third(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise Boom("injected failure")

    with pytest.raises(MigrationError, match="injected failure.*rolled back.*as it was"):
        migrate(src, dst, project="p", merge=True, batch_size=20, state_dir=state_dir,
                on_batch=fail_on_third)  # fmt: skip
    assert calls == [1, 21, 41]  # audit_entries (1 record), then tasks in batches of 20
    with cs.open(dst, project="p") as d:
        assert records_of(export_text(d)) == records_of(before)
    assert not os.listdir(state_dir)


def test_ctrl_c_mid_way_rolls_back_and_says_interrupted(tmp_path, state_dir):
    from conductor_store.migrate import MigrationInterrupted

    src, dst = f"json://{tmp_path}/s", f"json://{tmp_path}/d"
    with cs.open(src, project="p") as s:
        fill(s)

    def interrupt(done, total):
        if done >= 40:
            raise KeyboardInterrupt

    with pytest.raises(MigrationInterrupted, match="interrupted after 41 records; rolled back 41"):
        migrate(src, dst, project="p", batch_size=20, state_dir=state_dir, on_batch=interrupt)
    with cs.open(dst, project="p") as d:
        assert d.tables() == []


def test_verify_catches_a_record_changed_during_the_copy(tmp_path, state_dir):
    src, dst = f"json://{tmp_path}/s", f"json://{tmp_path}/d"
    with cs.open(src, project="p") as s:
        fill(s)

        def tamper(done, total):
            if done == 41:  # T0000 was copied in tasks' first batch; change it in the source now
                s.update("tasks", "T0000", {"title": "changed behind the copy's back"})

        with pytest.raises(MigrationError, match="verify found differences in tasks"):
            migrate(src, dst, project="p", batch_size=20, verify=True, state_dir=state_dir,
                    on_batch=tamper)  # fmt: skip
    with cs.open(dst, project="p") as d:
        assert d.tables() == []  # rolled back


def test_verify_compares_counts_and_digests_per_table(tmp_path, state_dir):
    src, dst = f"json://{tmp_path}/s", f"json://{tmp_path}/d"
    with cs.open(src, project="p") as s:
        fill(s, 10)
    migrate(src, dst, project="p", state_dir=state_dir)
    record = tmp_path / "d" / "p" / "tasks" / "T0002.json"
    doc = json.loads(record.read_text())
    record.write_text(json.dumps({**doc, "title": "tampered by hand"}))
    (tmp_path / "d" / "p" / "tasks" / "T0003.json").unlink()
    with cs.open(src, project="p") as s, cs.open(dst, project="p") as d:
        checks = {c["table"]: c for c in core.verify(migrate_source(s), d)}
    assert checks["tasks"]["match"] is False
    assert checks["tasks"]["source"] == 10 and checks["tasks"]["target"] == 9
    assert checks["audit_entries"]["match"] is True


def migrate_source(store):
    from conductor_store.migrate import StoreSource

    return StoreSource(store)


def test_interrupted_state_must_be_resumed_or_rolled_back(tmp_path, state_dir):
    src, dst = f"json://{tmp_path}/s", f"json://{tmp_path}/d"
    with cs.open(src, project="p") as s:
        fill(s, 50)
    with pytest.raises(MigrationError, match="no interrupted migration to resume"):
        migrate(src, dst, project="p", resume=True, state_dir=state_dir)
    # a run that died after two batches: its state and journal are what a kill leaves
    with cs.open(src, project="p") as s, cs.open(dst, project="p") as d:
        state = RunState.create(state_dir, run_name(src, dst, "p"), merge=False)
        source = migrate_source(s)
        pages = source.pages("tasks", None, 10)
        for _ in range(2):
            page = next(pages)
            core._write_batch(d, "tasks", page, state, careful=False)
            state.mark("tasks", page[-1][0], len(page), 0)
        assert d.count("tasks") == 20
    with pytest.raises(MigrationError, match="--resume.*--rollback"):
        migrate(src, dst, project="p", state_dir=state_dir)
    assert migrate(src, dst, project="p", rollback=True, state_dir=state_dir)["rolled_back"] == 20
    with cs.open(dst, project="p") as d:
        assert d.tables() == []


def test_batch_size_must_be_positive(tmp_path, state_dir):
    with pytest.raises(MigrationError, match="batch size"):
        migrate(f"json://{tmp_path}/s", f"json://{tmp_path}/d", batch_size=0,
                state_dir=state_dir)  # fmt: skip


# -- Conductor's own layout ---------------------------------------------------------------
def build_workflow(root) -> None:
    """A project directory laid out as Conductor's JSON files (see conductor-db reference)."""
    wf = root / ".workflow"
    (wf / "audit").mkdir(parents=True)
    (wf / "checkpoints" / "cp-1").mkdir(parents=True)
    (wf / "sessions").mkdir()
    state = {
        "project_dir": str(root),
        "current_phase": 3,
        "phase_status": {"1": "completed", "2": "completed", "3": "in_progress"},
        "iteration_count": 2,
        "execution_mode": "afk",
        "created_at": "2026-01-01T10:00:00",
        "updated_at": "2026-01-02T11:00:00",
        "tasks": [
            {"id": "T1", "title": "Parser", "status": "completed", "priority": "high",
             "dependencies": [], "created_at": "2026-01-01T10:05:00"},
            {"id": "T2", "title": "CLI", "status": "pending", "priority": "medium",
             "dependencies": ["T1"], "created_at": "2026-01-01T10:06:00"},
        ],
    }  # fmt: skip
    (wf / "state.json").write_text(json.dumps(state))
    same_second = "audit-20260101100700-claude-T1"
    lines = [
        {"id": same_second, "agent": "claude", "task_id": "T1", "status": "failed",
         "timestamp": "2026-01-01T10:07:00", "cost_usd": 0.1},
        {"id": same_second, "agent": "claude", "task_id": "T1", "status": "success",
         "timestamp": "2026-01-01T10:07:00", "cost_usd": 0.2},
        {"agent": "codex", "task_id": "T2", "status": "success", "timestamp": "2026-01-01T10:09"},
    ]  # fmt: skip
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"agent": "torn'
    (wf / "audit" / "invocations.jsonl").write_text(text)
    (wf / "checkpoints" / "index.json").write_text(
        json.dumps([{"id": "cp-1", "name": "after planning", "created_at": "2026-01-01T10:03"}])
    )
    (wf / "checkpoints" / "cp-1" / "checkpoint.json").write_text(
        json.dumps({"phase": 2, "state_snapshot": {"current_phase": 2}})
    )
    (wf / "sessions" / "s-1.json").write_text(
        json.dumps({"session_id": "s-1", "task_id": "T1", "agent": "claude", "status": "closed"})
    )
    (wf / "budget.json").write_text(json.dumps({
        "limit_usd": 10.0,
        "records": [
            {"agent": "claude", "amount_usd": 0.1, "prompt_tokens": 100,
             "completion_tokens": 20, "model": "opus", "timestamp": "2026-01-01T10:07:00"},
            {"agent": "claude", "amount_usd": 0.2, "prompt_tokens": 200,
             "completion_tokens": 40, "model": "opus", "timestamp": "2026-01-01T10:07:30"},
        ],
    }))  # fmt: skip


def test_conductor_layout_keeps_ids_and_timestamps_and_is_idempotent(tmp_path, state_dir):
    build_workflow(tmp_path / "proj")
    url = f"json://{tmp_path}/store"
    report = from_conductor(str(tmp_path / "proj"), url, project="proj", state_dir=state_dir)
    assert any("line 4: not JSON" in w for w in report["warnings"])
    with cs.open(url, project="proj") as store:
        state = store.get("workflow_state", "state")
        assert state["current_phase"] == 3 and state["created_at"] == "2026-01-01T10:00:00"
        assert "tasks" not in state
        t2 = store.get("tasks", "T2")
        assert t2["dependencies"] == ["T1"] and t2["created_at"] == "2026-01-01T10:06:00"
        audit = {d["id"]: d for d in store.find("audit_entries")}
        # the two entries Conductor gave one id (same second) are both kept
        assert set(audit) == {
            "audit-20260101100700-claude-T1", "audit-20260101100700-claude-T1-2", "audit-000003",
        }  # fmt: skip
        assert audit["audit-20260101100700-claude-T1"]["status"] == "failed"
        cp = store.get("checkpoints", "cp-1")
        assert cp["name"] == "after planning" and cp["state_snapshot"] == {"current_phase": 2}
        assert store.get("sessions", "s-1")["status"] == "closed"
        budget = store.find("budget_records", order_by="id")
        assert [b["cost_usd"] for b in budget] == [0.1, 0.2]
        assert budget[0]["tokens_input"] == 100 and budget[0]["tokens_output"] == 20
        assert budget[1]["created_at"] == "2026-01-01T10:07:30"
        assert store.get("budget_settings", "budget")["limit_usd"] == 10.0
        seq = portable.last_seq(store)
    again = from_conductor(str(tmp_path / "proj"), url, project="proj", state_dir=state_dir)
    assert again["written"] == 0 and again["unchanged"] == report["written"]
    with cs.open(url, project="proj") as store:
        assert portable.last_seq(store) == seq  # the second run committed nothing


def test_migrate_all_does_conductor_and_json_projects(tmp_path, state_dir):
    build_workflow(tmp_path / "projects" / "alpha")
    with cs.open(f"json://{tmp_path}/projects", project="beta") as beta:
        fill(beta, 5)
    (tmp_path / "projects" / "not-a-project").mkdir()
    reports = migrate_all(str(tmp_path / "projects"), f"json://{tmp_path}/dst",
                          state_dir=state_dir)  # fmt: skip
    assert [r["project"] for r in reports] == ["alpha", "beta"]
    assert all("error" not in r for r in reports)
    with cs.open(f"json://{tmp_path}/dst", project="beta") as b:
        assert b.count("tasks") == 5
    with cs.open(f"json://{tmp_path}/dst", project="alpha") as a:
        assert a.count("tasks") == 2


def test_a_corrupt_source_record_stops_the_run_and_names_the_file(tmp_path, state_dir):
    src, dst = f"json://{tmp_path}/s", f"json://{tmp_path}/d"
    with cs.open(src, project="p") as s:
        fill(s, 10)
    (tmp_path / "s" / "p" / "tasks" / "T0004.json").write_text("{not json")
    with pytest.raises(MigrationError, match="T0004.json.*the target is as it was"):
        migrate(src, dst, project="p", state_dir=state_dir)
    with cs.open(dst, project="p") as d:
        assert d.tables() == []
    assert not os.listdir(state_dir)  # no stale state: the next run needs no --resume
