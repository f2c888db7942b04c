"""Records, part 2: the audit trail and its statistics, sessions, budget, workflow events and
error patterns (similarity search through ``Store.nearest``)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from conductor_store import ConflictError, NotFoundError, ValidationError
from conductor_store.records import AuditEntry

from ._support import raises_naming, snapshot

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)

#: the fixed data set of the statistics test: (agent, model, status, duration, cost, at)
AUDIT_DATA = [
    ("claude", "opus", "success", 10.0, 0.10, T0 + timedelta(hours=1)),
    ("claude", "opus", "failed", 20.0, 0.20, T0 + timedelta(hours=2)),
    ("claude", "sonnet", "timeout", 30.0, None, T0 + timedelta(hours=3)),
    ("gemini", None, "error", None, None, T0 + timedelta(hours=4)),
    ("gemini", "flash", "success", 5.0, 0.05, T0 + timedelta(hours=5)),
    ("gemini", "flash", "pending", None, None, T0 + timedelta(hours=6)),
    # outside [T0, T0 + 1 day): just before, and exactly at the (exclusive) end
    ("claude", "opus", "success", 100.0, 1.0, T0 - timedelta(microseconds=1)),
    ("claude", "opus", "failed", 100.0, 1.0, T0 + timedelta(days=1)),
]


def _figures(total, success, failed, timeout, error, pending, cost, durations, costs):
    return {
        "total": total,
        "success_count": success,
        "failed_count": failed,
        "timeout_count": timeout,
        "error_count": error,
        "pending_count": pending,
        "success_rate": pytest.approx(success / total if total else 0.0),
        "total_cost_usd": pytest.approx(cost),
        "total_duration_seconds": pytest.approx(sum(durations)),
        "avg_duration_seconds": pytest.approx(
            sum(durations) / len(durations) if durations else 0.0
        ),
        "avg_cost_usd": pytest.approx(sum(costs) / len(costs) if costs else 0.0),
    }


class RecordsAuditTests:
    # -- audit trail -----------------------------------------------------------------------
    def test_audit_entry_lifecycle(self, store):
        """create_entry keeps sha256 and length of the prompt (not its text); update_result,
        mark_timeout and mark_error finish entries as the reference does."""
        entry = store.audit.create_entry(
            "claude", "T1", "Implement X", session_id="S1", command_args=["-p"], metadata={"k": 1}
        )
        assert isinstance(entry, AuditEntry) and entry.status == "pending"
        assert entry.prompt_hash == hashlib.sha256(b"Implement X").hexdigest()
        assert (entry.prompt_length, entry.prompt) == (11, None)
        assert "Implement X" not in str(store.get("audit_entries", entry.id))
        kept = store.audit.create_entry("claude", "T1", "keep me", store_prompt=True)
        assert store.audit.find_by_id(kept.id).prompt == "keep me"
        done = store.audit.update_result(
            entry.id,
            success=True,
            exit_code=0,
            duration_seconds=45.2,
            cost_usd=0.05,
            model="opus",
            output_length=10,
            parsed_output_type="json",
        )
        assert (done.status, done.exit_code, done.duration_seconds, done.cost_usd) == (
            "success",
            0,
            45.2,
            0.05,
        )
        assert done.model == "opus" and done.completed_at >= done.timestamp
        timed = store.audit.mark_timeout(kept.id, 300)
        assert (timed.status, timed.exit_code, timed.duration_seconds) == ("timeout", -1, 300)
        other = store.audit.create_entry("codex", "T2", "p")
        errored = store.audit.mark_error(other.id, "crashed")
        assert (errored.status, errored.error_message, errored.error_length) == (
            "error",
            "crashed",
            7,
        )
        failed = store.audit.create_entry("codex", "T2", "p")
        assert store.audit.update_result(failed.id, False, 1, 2.0).status == "failed"

    def test_audit_ids_never_collide(self, store):
        """Many entries of one agent and task created at once all get distinct ids and are
        all kept."""
        ids = [store.audit.create_entry("claude", "T1", f"p{i}").id for i in range(50)]
        assert len(set(ids)) == 50 and store.audit.count() == 50
        assert [e.id for e in store.audit.find_by_task("T1", limit=100)] == ids

    def test_audit_bad_input_writes_nothing(self, store):
        """Negative cost or duration, a non-integer exit code, an unknown entry: refused
        naming the value; nothing written."""
        entry = store.audit.create_entry("claude", "T1", "p")
        before = snapshot(store)
        with raises_naming(ValidationError, "cost_usd", "-0.5"):
            store.audit.update_result(entry.id, True, 0, 1.0, cost_usd=-0.5)
        with raises_naming(ValidationError, "duration_seconds"):
            store.audit.update_result(entry.id, True, 0, -1.0)
        with raises_naming(ValidationError, "exit_code"):
            store.audit.update_result(entry.id, True, "0", 1.0)
        with raises_naming(NotFoundError, "'nope'"):
            store.audit.mark_error("nope", "x")
        with raises_naming(ValidationError, "'weird'"):
            store.audit.find_by_status("weird")
        with raises_naming(ValidationError, "naive"):
            store.audit.find_since(datetime(2026, 1, 1))
        assert snapshot(store) == before

    def test_audit_finders(self, store):
        """find_by_task oldest first, find_by_agent/status newest first, find_since range,
        find_failures (failed, timeout and error; last 24 h by default), limits."""
        a = store.audit.create_entry("claude", "T1", "1")
        b = store.audit.create_entry("gemini", "T1", "2")
        c = store.audit.create_entry("claude", "T2", "3")
        store.audit.update_result(a.id, False, 1, 1.0)
        store.audit.mark_timeout(b.id, 5)
        store.audit.mark_error(c.id, "x")
        store.audit.create_entry("claude", "T2", "4")
        assert [e.id for e in store.audit.find_by_task("T1")] == [a.id, b.id]
        assert [e.id for e in store.audit.find_by_agent("claude", limit=2)][1] == c.id
        assert [e.id for e in store.audit.find_by_status("timeout")] == [b.id]
        assert [e.id for e in store.audit.find_failures()] == [c.id, b.id, a.id]
        assert (
            store.audit.find_failures(since=datetime.now(timezone.utc) + timedelta(hours=1)) == []
        )
        start = store.audit.find_by_id(b.id).timestamp
        assert [
            e.id
            for e in store.audit.find_since(start, until=store.audit.find_by_id(c.id).timestamp)
        ] == [b.id]
        assert len(store.audit.find_since(start, limit=2)) == 2

    def test_statistics_match_hand_computed_figures(self, store):
        """get_statistics(since, until) over a fixed data set equals the figures computed by
        hand: finished entries only (pending apart), "error" counted with the failures,
        since inclusive / until exclusive, per agent and per model."""
        for i, (agent, model, status, duration, cost, at) in enumerate(AUDIT_DATA):
            doc = {
                "entry_id": f"e{i}",
                "agent": agent,
                "task_id": "T1",
                "status": status,
                "model": model,
                "duration_seconds": duration,
                "cost_usd": cost,
                "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            store.insert("audit_entries", doc, id=f"e{i}")
        stats = store.audit.get_statistics(since=T0, until=T0 + timedelta(days=1))
        overall = {k: v for k, v in stats.to_dict().items() if not k.startswith("by_")}
        assert overall == _figures(5, 2, 2, 1, 1, 1, 0.35, [10, 20, 30, 5], [0.10, 0.20, 0.05])
        assert stats.by_status == {
            "pending": 1,
            "success": 2,
            "failed": 1,
            "timeout": 1,
            "error": 1,
        }
        agents = {k: v.to_dict() for k, v in stats.by_agent.items()}
        assert agents == {
            "claude": _figures(3, 1, 1, 1, 0, 0, 0.30, [10, 20, 30], [0.10, 0.20]),
            "gemini": _figures(2, 1, 1, 0, 1, 1, 0.05, [5], [0.05]),
        }
        models = {k: v.to_dict() for k, v in stats.by_model.items()}
        assert models == {
            "opus": _figures(2, 1, 1, 0, 0, 0, 0.30, [10, 20], [0.10, 0.20]),
            "sonnet": _figures(1, 0, 0, 1, 0, 0, 0.0, [30], []),
            "unknown": _figures(1, 0, 1, 0, 1, 0, 0.0, [], []),
            "flash": _figures(1, 1, 0, 0, 0, 1, 0.05, [5], [0.05]),
        }
        everything = store.audit.get_statistics()
        assert (everything.total, everything.success_count, everything.failed_count) == (7, 3, 3)
        assert store.audit.get_cost_by_task() == {"T1": pytest.approx(2.35)}

    def test_cleanup_old_entries_is_one_commit(self, store):
        """cleanup_old_entries(days) deletes exactly the older entries, in one commit."""
        old = (datetime.now(timezone.utc) - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for i in range(3):
            store.insert(
                "audit_entries",
                {
                    "entry_id": f"o{i}",
                    "agent": "a",
                    "task_id": "T",
                    "status": "success",
                    "timestamp": old,
                },
                id=f"o{i}",
            )
        fresh = store.audit.create_entry("a", "T", "p")
        seq = store.changes()[-1].seq
        assert store.audit.cleanup_old_entries(days=30) == 3
        assert len({c.seq for c in store.changes(seq)}) == 1
        assert [e.id for e in store.audit.find_all()] == [fresh.id]
        assert store.audit.cleanup_old_entries() == 0

    # -- sessions --------------------------------------------------------------------------
    def test_sessions(self, store):
        """create/get/get_active/record_invocation/close/close_task_sessions/get_task_sessions/
        get_total_cost; closing a closed session or recording on it is refused."""
        store.sessions.create_session("S1", "T1", "claude")
        store.sessions.create_session("S2", "T1", "claude")
        store.sessions.create_session("S3", "T2", "gemini")
        assert store.sessions.get_active_session("T1").session_id == "S2"
        store.sessions.record_invocation("S1", cost_usd=0.25)
        s1 = store.sessions.record_invocation("S1", 0.5)
        assert (s1.invocation_count, s1.total_cost_usd) == (2, 0.75)
        closed = store.sessions.close_session("S2")
        assert closed.status == "closed" and closed.closed_at is not None
        assert store.sessions.get_active_session("T1").session_id == "S1"
        before = snapshot(store)
        with raises_naming(ValidationError, "'S2'", "closed"):
            store.sessions.close_session("S2")
        with raises_naming(ValidationError, "'S2'"):
            store.sessions.record_invocation("S2")
        with raises_naming(ValidationError, "cost_usd"):
            store.sessions.record_invocation("S1", -1.0)
        with raises_naming(NotFoundError, "'S9'"):
            store.sessions.close_session("S9")
        with raises_naming(ConflictError, "S1"):
            store.sessions.create_session("S1", "T1", "claude")
        assert snapshot(store) == before
        assert store.sessions.close_task_sessions("T1") == 1
        assert store.sessions.get_active_session("T1") is None
        assert [s.session_id for s in store.sessions.get_task_sessions("T1")] == ["S1", "S2"]
        assert (
            store.sessions.get_total_cost("T1") == 0.75 and store.sessions.get_total_cost() == 0.75
        )

    # -- budget ----------------------------------------------------------------------------
    def test_budget(self, store):
        """record_spend, totals (per task, since), remaining budget, can_spend, reserve,
        get_summary, get_daily_costs; a negative cost is refused."""
        b = store.budget
        b.record_spend(
            "claude", 1.5, task_id="T1", tokens_input=100, tokens_output=10, model="opus"
        )
        b.record_spend("gemini", 0.5, task_id="T2", model="flash")
        b.record_spend("claude", 0.25)
        assert b.get_total_cost() == 2.25 and b.get_task_cost("T1") == 1.5
        assert b.get_total_cost(task_id="T2") == 0.5
        assert b.get_total_cost(since=datetime.now(timezone.utc) + timedelta(hours=1)) == 0
        assert b.get_remaining_budget(5.0) == 2.75 and b.get_remaining_budget(2.0, "T1") == 0.5
        assert b.can_spend(2.75, 5.0) and not b.can_spend(2.76, 5.0)
        assert b.reserve(1.0, 3.0, agent="claude", task_id="T2").cost_usd == 1.0
        assert b.reserve(1.0, 2.0, task_id="T2") is None
        assert b.get_task_cost("T2") == 1.5
        summary = b.get_summary()
        assert summary["total_cost_usd"] == 3.25 and summary["record_count"] == 4
        assert (summary["total_tokens_input"], summary["total_tokens_output"]) == (100, 10)
        assert summary["by_agent"] == {"claude": 2.75, "gemini": 0.5}
        assert summary["by_task"] == {"T1": 1.5, "T2": 1.5, "unknown": 0.25}
        assert summary["by_model"] == {"flash": 0.5, "opus": 1.5, "unknown": 1.25}
        daily = b.get_daily_costs(days=3)
        assert [d["cost_usd"] for d in daily] == [0.0, 0.0, 3.25] and daily[-1]["record_count"] == 4
        before = snapshot(store)
        with raises_naming(ValidationError, "cost_usd", "-1"):
            b.record_spend("claude", -1)
        with raises_naming(ValidationError, "cost_usd"):
            b.reserve(-1.0, 10.0)
        assert snapshot(store) == before

    # -- workflow events -------------------------------------------------------------------
    def test_events(self, store):
        """emit, list_events by type(s) and time, newest_first, limit, prune_old_events."""
        first = store.events.emit("phase_started", {"phase": 1})
        store.events.emit("task_done", {"task": "T1"})
        third = store.events.emit("phase_started", {"phase": 2})
        assert [e.event_data["phase"] for e in store.events.list_events("phase_started")] == [1, 2]
        assert len(store.events.list_events(["phase_started", "task_done"])) == 3
        assert store.events.list_events(newest_first=True, limit=1)[0].id == third.id
        assert [e.id for e in store.events.list_events(since=third.created_at)] == [third.id]
        assert [
            e.id
            for e in store.events.list_events(until=first.created_at + timedelta(microseconds=1))
        ] == [first.id]
        assert [e.id for e in store.events.get_by_type("task_done")] != []
        old = (datetime.now(timezone.utc) - timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        store.insert(
            "workflow_events", {"event_type": "x", "event_data": {}, "created_at": old}, id="old"
        )
        assert store.events.prune_old_events() == 1 and store.events.count() == 3
        with raises_naming(ValidationError, "event_type"):
            store.events.emit("")

    # -- error patterns --------------------------------------------------------------------
    def test_find_similar_ranks_a_paraphrase_first(self, store):
        """With the built-in embedding, a paraphrase of a recorded error ranks above
        unrelated errors; min_score and limit apply; scores are in [-1, 1], best first."""
        errors = store.errors
        errors.record_error("T1", "KeyError", "KeyError: 'user_id' missing from request payload")
        target = errors.record_error(
            "T2",
            "ConnectionError",
            "Connection refused when connecting to database at localhost:5432",
            context={"host": "db"},
            solution="start the database",
        )
        errors.record_error("T3", "AssertionError", "test_parser failed: expected 3 tokens, got 4")
        errors.record_error("T4", "TimeoutError", "agent timed out after 300 seconds")
        found = errors.find_similar(
            "could not connect to the database: connection refused (port 5432)"
        )
        assert (
            found[0].pattern.id == target.id and found[0].pattern.solution == "start the database"
        )
        assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
        assert all(-1.0 <= m.score <= 1.0 for m in found) and found[0].score > found[1].score
        assert len(errors.find_similar("connection refused", limit=2)) == 2
        assert errors.find_similar("connection refused", min_score=0.999) == []
        assert [p.id for p in errors.get_by_task("T2")] == [target.id]
        assert errors.get_by_type("KeyError")[0].task_id == "T1"
        assert errors.set_solution(target.id, "restart it").solution == "restart it"

    def test_find_similar_with_caller_embeddings(self, store):
        """A caller's embedding is stored as given and searched by vector (only against
        patterns with caller embeddings of the same length)."""
        errors = store.errors
        a = errors.record_error("T1", "E", "a", embedding=[1.0, 0.0, 0.0])
        errors.record_error("T1", "E", "b", embedding=[0.0, 1.0, 0.0])
        errors.record_error("T1", "E", "c", embedding=[0.0, 0.0, 1.0, 0.0])
        found = errors.find_similar([0.9, 0.1, 0.0])
        assert [m.pattern.error_message for m in found] == ["a", "b"]
        assert found[0].pattern.embedding == [1.0, 0.0, 0.0] and found[0].pattern.id == a.id
        assert found[0].score == pytest.approx(0.9 / (0.82**0.5))
        with raises_naming(ValidationError, "embedding"):
            errors.record_error("T1", "E", "bad", embedding=["x"])
        with raises_naming(ValidationError, "text_or_embedding"):
            errors.find_similar([])

    def test_error_patterns_are_shared_across_projects(self, opener):
        """A pattern recorded by one project is found from another project at the same
        location; each pattern remembers the project that recorded it."""
        self.require("shared_location")
        alpha, beta = opener("alpha"), opener("beta")
        alpha.errors.record_error("T1", "ImportError", "No module named 'yaml'")
        found = beta.errors.find_similar("ModuleNotFoundError: no module named yaml")
        assert [m.pattern.project for m in found] == ["alpha"]
        assert alpha.get("error_patterns", found[0].pattern.id) is None  # not in alpha's own data
        with alpha.errors.store.transaction() as tx:  # a transaction of the shared store
            alpha.errors.using(tx).record_error("T2", "ValueError", "bad literal for int()")
            assert beta.errors.get_by_task("T2") == []
        assert [p.project for p in beta.errors.get_by_task("T2")] == ["alpha"]

    def test_nearest(self, store):
        """Store.nearest: k best by cosine similarity, ties by id, where filter, records
        without a vector of that length left out; bad k or vector refused."""
        store.insert("docs", {"v": [1, 0], "kind": "a"}, id="x")
        store.insert("docs", {"v": [1, 0], "kind": "b"}, id="w")
        store.insert("docs", {"v": [0, 1], "kind": "a"}, id="y")
        store.insert("docs", {"v": [1, 0, 0], "kind": "a"}, id="z")
        store.insert("docs", {"other": 1}, id="n")
        found = store.nearest("docs", "v", [2.0, 0.0], k=3)
        assert [(d["id"], round(s, 6)) for d, s in found] == [("w", 1.0), ("x", 1.0), ("y", 0.0)]
        assert [d["id"] for d, _ in store.nearest("docs", "v", [1, 1], 5, where={"kind": "a"})] == [
            "x",
            "y",
        ]
        with raises_naming(ValidationError, "k"):
            store.nearest("docs", "v", [1.0], k=0)
        with raises_naming(ValidationError, "vector"):
            store.nearest("docs", "v", "abc")
