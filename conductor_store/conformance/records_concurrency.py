"""Records, part 3: concurrent workers. ``claim_next`` hands every task out exactly once and
the read-modify-write methods lose nothing -- in 4 processes where the backend allows it
(``multiprocess``), else in 4 threads (each with its own store where ``shared_location``)."""

from __future__ import annotations

from ._support import finish_child, in_threads, start_child

WORKERS, CLAIMS = 4, 25

_CLAIM_BODY = """
    import sys
    worker = "w%d" % {k}
    result = []
    for _ in range({claims}):
        task = store.tasks.claim_next(worker=worker)
        result.append(None if task is None else task.task_id)
"""

_RMW_BODY = """
    k = {k}
    for _ in range(8):
        store.sessions.record_invocation("S1", cost_usd=0.25)
        store.tasks.increment_attempts("T1")
        store.workflow.add_token_usage(1, 2, 0.5)
        store.workflow.increment_iteration()
    store.workflow.set_phase(k + 1, "completed")
    store.workflow.set_validation_feedback("agent%d" % k, {{"ok": True}})
    store.audit.update_result(store.get("audit_entries", "E%d" % k)["id"], True, 0, 1.0)
    store.tasks.bulk_create([{{"task_id": "B%d-%d" % (k, i), "title": "b"}} for i in range(3)])
    granted = [store.budget.reserve(1.0, 10.0, agent="a%d" % k) is not None for _ in range(4)]
    result = sum(granted)
"""


class RecordsConcurrencyTests:
    multiprocess: bool  # the Harness's capability flags
    shared_location: bool

    def _run_workers(self, url, opener, store, body: str) -> list:
        """Run ``body`` (child-process source, ``{k}`` = worker number) in WORKERS
        processes, or threads when the backend has no multiprocess access (each with its own
        store when the location is shared, else all on ``store``); their results."""
        if self.multiprocess:
            children = [
                start_child(self, url, body.format(k=k, claims=CLAIMS)) for k in range(WORKERS)
            ]
            return [finish_child(child) for child in children]
        results: list = [None] * WORKERS
        stores = [opener() if self.shared_location else None for _ in range(WORKERS)]

        def work(k: int) -> None:
            scope = {"store": stores[k] or store, "result": None}
            exec(body.format(k=k, claims=CLAIMS).replace("\n    ", "\n"), scope)  # noqa: S102
            results[k] = scope["result"]

        in_threads(WORKERS, work)
        return results

    def test_claim_next_hands_out_every_task_once(self, url, opener):
        """4 workers x 25 claim_next calls over 100 tasks: every worker gets 25 tasks and
        every task is handed out exactly once, marked in_progress for the worker that got
        it."""
        store = opener()
        store.tasks.bulk_create(
            [
                {"task_id": f"T{i:03d}", "title": "t", "priority": ("low", "high")[i % 2]}
                for i in range(WORKERS * CLAIMS)
            ]
        )
        results = self._run_workers(url, opener, store, _CLAIM_BODY)
        claimed = [task for worker in results for task in worker]
        assert None not in claimed and all(len(r) == CLAIMS for r in results)
        assert sorted(claimed) == [f"T{i:03d}" for i in range(WORKERS * CLAIMS)]
        for k, worker in enumerate(results):
            assert {store.tasks.get_task(t).claimed_by for t in worker} == {f"w{k}"}
        assert store.tasks.claim_next("late") is None

    def test_read_modify_write_methods_lose_nothing(self, url, opener):
        """4 concurrent workers calling record_invocation, increment_attempts,
        add_token_usage, increment_iteration, set_phase, set_validation_feedback,
        update_result, bulk_create and reserve: every update is kept, bulk creates are whole,
        and the budget's reservations never exceed the limit together."""
        store = opener()
        store.workflow.initialize_state("/p")
        store.tasks.create_task("T1", "t")
        store.sessions.create_session("S1", "T1", "claude")
        for k in range(WORKERS):
            store.insert("audit_entries", {**_entry(k)}, id=f"E{k}")
        granted = self._run_workers(url, opener, store, _RMW_BODY)
        n = WORKERS * 8
        session = store.sessions.get_session("S1")
        assert (session.invocation_count, session.total_cost_usd) == (n, n * 0.25)
        assert store.tasks.get_task("T1").attempts == n
        state = store.workflow.get_state()
        assert state.iteration_count == n
        assert state.token_usage == {"tokens_input": n, "tokens_output": 2 * n, "cost_usd": n * 0.5}
        assert [state.phase_status[str(p)] for p in range(1, WORKERS + 1)] == [
            "completed"
        ] * WORKERS
        assert sorted(state.validation_feedback) == [f"agent{k}" for k in range(WORKERS)]
        assert store.audit.get_statistics().success_count == WORKERS
        assert store.tasks.count() == 1 + 3 * WORKERS
        assert sum(granted) == 10 and store.budget.get_total_cost() == 10.0


def _entry(k: int) -> dict:
    return {
        "entry_id": f"E{k}",
        "agent": "claude",
        "task_id": "T1",
        "status": "pending",
        "timestamp": "2026-11-01T00:00:00.000000Z",
    }
