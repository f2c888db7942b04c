"""Records (``conductor_store.records``), part 1: the workflow state, tasks and claim_next,
milestones, git commits and checkpoints -- every method, through the public API only."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from conductor_store import ConflictError, NotFoundError, StoreError, ValidationError
from conductor_store.records import Task, WorkflowState

from ._support import raises_naming, snapshot


def _tasks(store, *specs):
    """Create tasks from ``(task_id, priority, dependencies)`` tuples."""
    for task_id, priority, deps in specs:
        store.tasks.create_task(task_id, f"title {task_id}", priority=priority, dependencies=deps)


class RecordsTests:
    # -- workflow state ------------------------------------------------------------------
    def test_workflow_initialize_and_read(self, store):
        """initialize_state creates phase 1 with every phase pending, aware UTC timestamps;
        a second call keeps the existing state."""
        assert store.workflow.get_state() is None
        assert store.workflow.get_summary() == {"status": "not_initialized"}
        state = store.workflow.initialize_state("/work/p", execution_mode="hitl")
        assert isinstance(state, WorkflowState)
        assert (state.project_dir, state.current_phase, state.execution_mode) == (
            "/work/p",
            1,
            "hitl",
        )
        assert state.phase_status == {str(p): "pending" for p in range(1, 6)}
        assert (
            state.created_at.tzinfo is not None
            and state.created_at.utcoffset().total_seconds() == 0
        )
        store.workflow.set_phase(2)
        assert store.workflow.initialize_state("/other").current_phase == 2
        assert store.workflow.get_state().to_dict()["project_dir"] == "/work/p"

    def test_workflow_updates(self, store):
        """Every setter of the workflow repository writes what it says."""
        wf = store.workflow
        wf.initialize_state("/p")
        wf.set_phase(3, "completed")
        wf.increment_iteration()
        wf.increment_iteration()
        wf.set_plan({"steps": [1, 2]})
        wf.set_validation_feedback("gemini", {"ok": True})
        wf.set_validation_feedback("codex", {"ok": False})
        wf.set_verification_feedback("gemini", "fine")
        wf.set_implementation_result({"files": 3})
        wf.set_decision("continue")
        wf.add_token_usage(100, 50, 0.25)
        state = wf.add_token_usage(tokens_input=1, tokens_output=2, cost_usd=0.5)
        assert state.current_phase == 3 and state.phase_status["3"] == "completed"
        assert state.iteration_count == 2 and state.plan == {"steps": [1, 2]}
        assert state.validation_feedback == {"gemini": {"ok": True}, "codex": {"ok": False}}
        assert state.verification_feedback == {"gemini": "fine"}
        assert state.implementation_result == {"files": 3} and state.next_decision == "continue"
        assert state.token_usage == {"tokens_input": 101, "tokens_output": 52, "cost_usd": 0.75}
        assert wf.update_state(research_complete=True).research_complete is True
        summary = wf.get_summary()
        assert (
            summary["completed_phases"] == 1 and summary["has_plan"] and summary["has_validation"]
        )
        assert summary["iteration_count"] == 2 and summary["total_phases"] == 5
        assert summary["project"] == store.project

    def test_workflow_resets(self, store):
        """reset_to_phase makes later phases pending; reset_state starts over, keeping the
        project dir and mode."""
        wf = store.workflow
        wf.initialize_state("/p", "afk")
        for phase in (1, 2, 3):
            wf.set_phase(phase, "completed")
        state = wf.reset_to_phase(2)
        assert state.current_phase == 2
        assert state.phase_status == {
            "1": "completed",
            "2": "pending",
            "3": "pending",
            "4": "pending",
            "5": "pending",
        }
        wf.set_plan({"x": 1})
        state = wf.reset_state()
        assert (state.current_phase, state.plan, state.iteration_count) == (1, None, 0)
        assert state.project_dir == "/p" and state.phase_status["1"] == "pending"

    def test_workflow_bad_input_writes_nothing(self, store):
        """An unknown phase, phase status or field is refused naming it; nothing is written;
        writing before initialisation is NotFoundError."""
        with raises_naming(NotFoundError, "initialize_state"):
            store.workflow.set_phase(2)
        store.workflow.initialize_state("/p")
        before = snapshot(store)
        with raises_naming(ValidationError, "7"):
            store.workflow.set_phase(7)
        with raises_naming(ValidationError, "'done-ish'"):
            store.workflow.set_phase(2, "done-ish")
        with raises_naming(ValidationError, "'colour'"):
            store.workflow.update_state(colour="red")
        with raises_naming(ValidationError, "cost_usd"):
            store.workflow.add_token_usage(1, 1, -0.5)
        assert snapshot(store) == before

    def test_git_commits(self, store):
        """record_git_commit (in store.workflow and store.git) and get_git_commits filters;
        a hash recorded twice is a ConflictError."""
        store.workflow.record_git_commit(1, "abc123", "first", task_id="T1", files_changed=["a.py"])
        store.git.record_git_commit(2, "def456", "second")
        store.git.record_git_commit(2, "aaa000", "third", task_id="T1")
        assert [c.commit_hash for c in store.workflow.get_git_commits()] == [
            "abc123",
            "def456",
            "aaa000",
        ]
        assert [c.commit_hash for c in store.git.get_git_commits(phase=2)] == ["def456", "aaa000"]
        assert [c.message for c in store.git.get_git_commits(task_id="T1")] == ["first", "third"]
        assert store.git.get_git_commits(phase=2, task_id="T1")[0].files_changed == []
        with raises_naming(ConflictError, "abc123"):
            store.git.record_git_commit(3, "abc123", "again")
        store.workflow.initialize_state("/p")
        assert store.workflow.get_summary()["total_commits"] == 3

    # -- tasks ---------------------------------------------------------------------------
    def test_create_and_get_task(self, store):
        """create_task stores every argument with the reference's defaults."""
        task = store.tasks.create_task("T1", "Write parser")
        assert isinstance(task, Task) and task.id == "T1"
        assert (task.status, task.priority, task.attempts, task.max_attempts) == (
            "pending",
            "medium",
            0,
            3,
        )
        assert (task.user_story, task.dependencies, task.estimated_complexity) == ("", [], "medium")
        full = store.tasks.create_task(
            "T2",
            "Lexer",
            user_story="As a user",
            acceptance_criteria=["parses"],
            dependencies=["T1"],
            priority="critical",
            milestone_id="M1",
            estimated_complexity="high",
            files_to_create=["lex.py"],
            files_to_modify=["a.py"],
            test_files=["test_lex.py"],
            max_attempts=5,
        )
        again = store.tasks.get_task("T2")
        assert again == full
        assert again.to_dict()["acceptance_criteria"] == ["parses"]
        assert again.to_dict()["created_at"].endswith("Z")
        assert store.tasks.get_task("nope") is None
        with raises_naming(ConflictError, "T1"):
            store.tasks.create_task("T1", "again")

    def test_task_bad_input_writes_nothing(self, store):
        """Unknown priority or status, a missing dependency, a cycle, an unknown field: each
        refused naming the value, with nothing written."""
        store.tasks.create_task("A", "a")
        store.tasks.create_task("B", "b", dependencies=["A"])
        before = snapshot(store)
        with raises_naming(ValidationError, "'urgent'"):
            store.tasks.create_task("C", "c", priority="urgent")
        with raises_naming(NotFoundError, "'ghost'"):
            store.tasks.create_task("C", "c", dependencies=["ghost"])
        with raises_naming(ValidationError, "cycle", "C -> C"):
            store.tasks.create_task("C", "c", dependencies=["C"])
        with raises_naming(ValidationError, "'running-ish'"):
            store.tasks.set_status("A", "running-ish")
        with raises_naming(ValidationError, "cycle"):
            store.tasks.update_task("A", dependencies=["B"])
        with raises_naming(NotFoundError, "'ghost'"):
            store.tasks.update_task("A", dependencies=["ghost"])
        with raises_naming(ValidationError, "'colour'"):
            store.tasks.update_task("A", colour="red")
        with raises_naming(NotFoundError, "'nope'"):
            store.tasks.set_status("nope", "completed")
        assert snapshot(store) == before

    def test_bulk_create_all_or_none(self, store):
        """bulk_create creates every task in one commit (dependencies inside the batch are
        fine); a cycle, duplicate, missing dependency or existing id writes none of them."""
        store.tasks.create_task("T0", "base")
        made = store.tasks.bulk_create(
            [
                {"task_id": "T1", "title": "one", "dependencies": ["T0"]},
                {"task_id": "T2", "title": "two", "dependencies": ["T1"], "priority": "high"},
            ]
        )
        assert [t.task_id for t in made] == ["T1", "T2"]
        assert len({c.seq for c in store.changes(tables=["tasks"]) if c.id in ("T1", "T2")}) == 1
        before = snapshot(store)
        bad_batches = [
            (
                [
                    {"task_id": "X1", "title": "x", "dependencies": ["X2"]},
                    {"task_id": "X2", "title": "y", "dependencies": ["X1"]},
                ],
                ValidationError,
                "cycle",
            ),
            (
                [{"task_id": "X1", "title": "x"}, {"task_id": "X1", "title": "y"}],
                ValidationError,
                "'X1'",
            ),
            (
                [
                    {"task_id": "X1", "title": "x"},
                    {"task_id": "X2", "title": "y", "dependencies": ["nope"]},
                ],
                NotFoundError,
                "'nope'",
            ),
            (
                [{"task_id": "X1", "title": "x"}, {"task_id": "T0", "title": "exists"}],
                ConflictError,
                "T0",
            ),
            (
                [
                    {"task_id": "X1", "title": "x"},
                    {"task_id": "X2", "title": "y", "priority": "meh"},
                ],
                ValidationError,
                "'meh'",
            ),
        ]
        for batch, error, name in bad_batches:
            with raises_naming(error, name):
                store.tasks.bulk_create(batch)
        assert snapshot(store) == before and store.tasks.get_task("X1") is None

    def test_task_updates_and_queries(self, store):
        """update_task, set_status, increment_attempts and the status/milestone queries."""
        _tasks(store, ("A", "low", []), ("B", "high", []), ("C", "medium", []))
        store.tasks.update_task(
            "C", milestone_id="M1", implementation_notes="n", priority="critical"
        )
        assert store.tasks.set_status("A", "completed").status == "completed"
        assert store.tasks.set_status("B", "failed", error="boom").error == "boom"
        store.tasks.increment_attempts("C")
        assert store.tasks.increment_attempts("C").attempts == 2
        assert [t.task_id for t in store.tasks.get_pending_tasks()] == ["C"]
        assert store.tasks.get_pending_tasks()[0].priority == "critical"
        assert [t.task_id for t in store.tasks.get_completed_tasks()] == ["A"]
        assert [t.task_id for t in store.tasks.get_failed_tasks()] == ["B"]
        assert [t.task_id for t in store.tasks.get_by_status("failed")] == ["B"]
        assert [t.task_id for t in store.tasks.get_by_milestone("M1")] == ["C"]
        progress = store.tasks.get_progress()
        assert (
            progress["total"],
            progress["pending"],
            progress["completed"],
            progress["failed"],
        ) == (3, 1, 1, 1)
        assert progress["in_progress"] == 0 and progress["completion_rate"] == pytest.approx(1 / 3)
        with raises_naming(ValidationError, "'bogus'"):
            store.tasks.get_by_status("bogus")

    def test_available_tasks_order_by_priority_rank(self, store):
        """get_available_tasks: pending with every dependency completed, critical > high >
        medium > low (not alphabetical), then oldest."""
        _tasks(
            store,
            ("L", "low", []),
            ("M", "medium", []),
            ("H", "high", []),
            ("H2", "high", []),
            ("C", "critical", ["L"]),
            ("M2", "medium", ["M"]),
        )
        assert [t.task_id for t in store.tasks.get_available_tasks()] == ["H", "H2", "M", "L"]
        store.tasks.set_status("L", "completed")
        assert [t.task_id for t in store.tasks.get_available_tasks()] == ["C", "H", "H2", "M"]

    def test_claim_next(self, store):
        """claim_next takes the best available task, marks it in_progress with the worker,
        skips tasks with unfinished dependencies, and returns None when nothing is left."""
        _tasks(store, ("L", "low", []), ("H", "high", []), ("D", "critical", ["L"]))
        first = store.tasks.claim_next(worker="w1")
        assert (first.task_id, first.status, first.claimed_by) == ("H", "in_progress", "w1")
        assert first.lease_expires_at is None and first.claimed_at is not None
        assert store.tasks.claim_next("w2").task_id == "L"
        assert store.tasks.claim_next("w2") is None
        store.tasks.set_status("L", "completed")
        assert store.tasks.claim_next("w3").task_id == "D"
        assert store.tasks.get_task("D").claimed_by == "w3"
        with raises_naming(ValidationError, "worker"):
            store.tasks.claim_next("")

    def test_claim_next_looks_past_many_blocked_tasks(self, store):
        """Tasks whose dependencies are unfinished never hide an available one, however many
        rank before it."""
        store.tasks.create_task("ROOT", "root", priority="low")
        store.tasks.bulk_create(
            [
                {
                    "task_id": f"B{i:02d}",
                    "title": "b",
                    "priority": "critical",
                    "dependencies": ["ROOT"],
                }
                for i in range(40)
            ]
        )
        store.tasks.create_task("FREE", "free", priority="low")
        assert store.tasks.claim_next("w").task_id == "ROOT"
        assert store.tasks.claim_next("w").task_id == "FREE"
        assert store.tasks.claim_next("w") is None

    def test_claim_next_expired_lease_is_claimable_again(self, store):
        """A claim with a lease that has expired makes the task claimable again; an
        unexpired one does not."""
        store.tasks.create_task("T", "t")
        store.tasks.create_task("U", "u", priority="low")
        claimed = store.tasks.claim_next("w1", lease_seconds=0.0)
        assert claimed.task_id == "T" and claimed.lease_expires_at <= datetime.now(timezone.utc)
        again = store.tasks.claim_next("w2", lease_seconds=3600)
        assert (again.task_id, again.claimed_by) == ("T", "w2")
        assert store.tasks.claim_next("w3", lease_seconds=3600).task_id == "U"
        assert store.tasks.claim_next("w4") is None
        with raises_naming(ValidationError, "lease_seconds"):
            store.tasks.claim_next("w5", lease_seconds=-1)

    def test_repository_in_a_transaction(self, store):
        """tx.tasks / repo.using(tx) calls commit together, or not at all on an error."""
        with store.transaction() as tx:
            tx.tasks.create_task("T1", "one")
            store.tasks.using(tx).create_task("T2", "two", dependencies=["T1"])
            tx.audit.create_entry("claude", "T1", "prompt")
            assert store.tasks.get_task("T1") is None  # not committed yet
        assert store.tasks.get_task("T2").dependencies == ["T1"]
        assert store.audit.count() == 1
        with pytest.raises(RuntimeError):
            with store.transaction() as tx:
                tx.tasks.set_status("T1", "completed")
                tx.sessions.create_session("S1", "T1", "claude")
                raise RuntimeError("abort")
        assert store.tasks.get_task("T1").status == "pending"
        assert store.sessions.get_session("S1") is None

    def test_generic_repository_methods(self, store):
        """find_by_id, find_all (order, paging), count, create, update, delete, delete_all."""
        for i in range(3):
            store.events.create({"event_type": f"e{i}", "event_data": {}}, record_id=f"ev{i}")
        repo = store.events
        assert repo.find_by_id("ev1").event_type == "e1"
        assert [e.id for e in repo.find_all()] == ["ev2", "ev1", "ev0"]
        assert [e.id for e in repo.find_all(limit=2, offset=1, descending=False)] == ["ev1", "ev2"]
        assert [e.id for e in repo.find_all(order_by="event_type", descending=False)] == [
            "ev0",
            "ev1",
            "ev2",
        ]
        assert repo.count() == 3 and repo.count({"event_type": "e1"}) == 1
        assert repo.update("ev1", {"event_type": "x"}).event_type == "x"
        assert repo.delete("ev1") is True and repo.delete("ev1") is False
        with raises_naming(NotFoundError, "ev1"):
            repo.update("ev1", {"event_type": "y"})
        assert repo.delete_all() == 2 and repo.count() == 0

    # -- milestones ------------------------------------------------------------------------
    def test_milestones(self, store):
        """create/get/list/update/set_status/add_task/get_progress; unknown task or status
        refused naming it."""
        _tasks(store, ("T1", "medium", []), ("T2", "medium", []))
        m = store.milestones.create_milestone("M1", "Parser", "first", task_ids=["T1"])
        assert (m.milestone_id, m.status, m.task_ids) == ("M1", "pending", ["T1"])
        store.milestones.create_milestone("M2", "Later")
        assert [x.id for x in store.milestones.list_milestones()] == ["M1", "M2"]
        store.milestones.add_task("M1", "T2")
        assert store.tasks.get_task("T2").milestone_id == "M1"
        store.tasks.set_status("T1", "completed")
        assert store.milestones.get_progress("M1") == {
            "milestone_id": "M1",
            "total": 2,
            "completed": 1,
            "completion_rate": 0.5,
        }
        assert store.milestones.set_status("M1", "completed").status == "completed"
        assert [x.id for x in store.milestones.list_milestones("completed")] == ["M1"]
        assert store.milestones.update_milestone("M2", description="d").description == "d"
        before = snapshot(store)
        with raises_naming(NotFoundError, "'ghost'"):
            store.milestones.create_milestone("M3", "x", task_ids=["ghost"])
        with raises_naming(ValidationError, "'later'"):
            store.milestones.set_status("M2", "later")
        with raises_naming(NotFoundError, "'ghost'"):
            store.milestones.add_task("M2", "ghost")
        assert snapshot(store) == before
        assert store.milestones.get_milestone("M3") is None

    # -- checkpoints -----------------------------------------------------------------------
    def test_checkpoint_round_trip(self, store):
        """restore_checkpoint puts the workflow state and every task back exactly (tasks made
        since are removed) in one commit; a prefix of the id works."""
        store.workflow.initialize_state("/p")
        store.workflow.set_phase(2)
        _tasks(store, ("T1", "high", []), ("T2", "low", ["T1"]))
        store.tasks.set_status("T1", "completed")
        state_before = store.workflow.get_state()
        tasks_before = store.tasks.find_all(order_by="task_id")
        cp = store.checkpoints.create_checkpoint("before phase 3", notes="safe point")
        assert (cp.name, cp.notes, cp.phase) == ("before phase 3", "safe point", 2)
        assert cp.task_progress == {"completed": 1, "pending": 1}
        store.workflow.set_phase(3, "failed")
        store.tasks.set_status("T2", "failed", error="x")
        store.tasks.create_task("T3", "new")
        store.tasks.delete("T1")
        seq = store.changes()[-1].seq
        restored = store.checkpoints.restore_checkpoint(cp.id[:-4])
        assert restored.id == cp.id
        assert len({c.seq for c in store.changes(seq)}) == 1
        assert store.workflow.get_state() == state_before
        assert store.tasks.find_all(order_by="task_id") == tasks_before

    def test_checkpoint_listing_and_pruning(self, store):
        """list_checkpoints newest first, get_latest, get_checkpoint by prefix, delete,
        prune_old_checkpoints(keep_count) in one commit; a missing id is NotFoundError."""
        made = [store.checkpoints.create_checkpoint(f"cp{i}") for i in range(4)]
        assert [c.name for c in store.checkpoints.list_checkpoints()] == [
            "cp3",
            "cp2",
            "cp1",
            "cp0",
        ]
        assert store.checkpoints.get_latest().id == made[-1].id
        assert store.checkpoints.get_checkpoint(made[1].id).name == "cp1"
        assert store.checkpoints.get_checkpoint("ZZZZ") is None
        with raises_naming(ValidationError, "ambiguous"):
            store.checkpoints.get_checkpoint(made[0].id[:2])
        assert store.checkpoints.prune_old_checkpoints(keep_count=2) == 2
        assert [c.name for c in store.checkpoints.list_checkpoints()] == ["cp3", "cp2"]
        assert store.checkpoints.delete_checkpoint(made[2].id) is True
        assert store.checkpoints.delete_checkpoint(made[2].id) is False
        before = snapshot(store)
        with raises_naming(NotFoundError, "'nope'"):
            store.checkpoints.restore_checkpoint("nope")
        assert snapshot(store) == before

    def test_errors_repository_is_not_in_a_foreign_transaction(self, store):
        """tx.errors refuses clearly when the patterns live in another (shared) store."""
        if store.errors.store is store:
            pytest.skip("this store keeps its own patterns (no shared store)")
        with store.transaction() as tx:
            with raises_naming(StoreError, "shared"):
                tx.errors.record_error("T", "E", "m")
