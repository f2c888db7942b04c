"""A small orchestrator scenario on the records' repositories (``docs/records.md``).

Run it with ``conductor-store demo [--url URL]``; it is also the README's first command. A
workflow goes through its five phases: planning creates tasks with dependencies in one commit,
grouped in milestones, and takes a checkpoint; two workers take turns claiming the best
available task with ``tasks.claim_next``, reserve its budget (``budget.reserve``: check and
record in one commit), log the invocation in the audit trail and record its result. The first
attempt at T1 fails; its error is recorded as an error pattern, ``errors.find_similar`` finds it
again from a paraphrase (with its solution), and the task goes back to pending for the other
worker. The report holds the summary ``conductor-store stats`` shows, and more.

The demo writes only into a project it owns: an empty one, or one holding nothing but what an
earlier demo run wrote (it keeps the list in ``demo_meta:owner``). A project with any other
record is refused unless ``reset=True`` (``--reset``), which empties it first. Its error
patterns stay in that project too (not in the shared project ``store.errors`` uses), so that the
demo writes nowhere else.
"""

from __future__ import annotations

from typing import Any, Callable

from .errors import StoreError
from .store import Store, open

MARKER = ("demo_meta", "owner")

TASKS: list[dict[str, Any]] = [
    {"task_id": "T1", "title": "Write parser", "priority": "high", "milestone_id": "M1"},
    {"task_id": "T2", "title": "Add CLI", "dependencies": ["T1"], "milestone_id": "M1"},
    {
        "task_id": "T3",
        "title": "Document API",
        "priority": "low",
        "dependencies": ["T1"],
        "milestone_id": "M2",
    },
]
MILESTONES = [("M1", "Core works", ["T1", "T2"]), ("M2", "Docs", ["T3"])]
#: (worker, agent, model): they take turns at claim_next
WORKERS = [("claude-1", "claude", "opus"), ("codex-1", "codex", "gpt-5")]
#: what one invocation costs (reserved before it runs) and the budget limit of the project
COST_USD, BUDGET_USD = 0.05, 1.00
#: error patterns an earlier project had learned (the failure of T1 adds a third)
KNOWN_ERRORS = [
    ("SyntaxError", "unexpected indent in parser.py line 12", "run the formatter"),
    ("TimeoutError", "agent did not answer within 600 seconds", "split the task"),
]
FAILURE = ("ConnectionError", "Connection refused: database at localhost:5432")
SOLUTION = "start the database first"
PARAPHRASE = "could not connect to the database: connection refused"


def run_demo(
    url: str | None,
    *,
    project: str = "demo",
    progress: Callable[[str], None] | None = None,
    reset: bool = False,
) -> dict:
    """Run the scenario on a fresh copy of ``project`` and return what it did and stored."""
    say = progress or (lambda message: None)
    with open(url, project=project) as store:
        _claim(store, reset)
        say(f"opened {store.info()['backend']} store at {store.info()['url']}")
        _reset(store)
        log = store.changes()
        since = log[-1].seq if log else 0
        facts = _scenario(store, say)
        store.put(
            *MARKER, {"written_by": "conductor-store demo", "keys": sorted(map(list, _keys(store)))}
        )
        changes = store.changes(since)
        report = {
            "info": store.info(),
            "project": store.project,
            "workflow": store.workflow.get_summary(),
            "tasks": store.tasks.get_progress(),
            "audit": store.audit.get_statistics().to_dict(),
            "budget": {**store.budget.get_summary(), "limit_usd": BUDGET_USD},
            **facts,
            "tables": {t: store.count(t) for t in store.tables() if t != MARKER[0]},
            "changes": len(changes),
            "commits": len({c.seq for c in changes}),
            "last_seq": changes[-1].seq if changes else since,
        }
        say(f"recorded {report['changes']} changes in {report['commits']} commits")
        return report


def _scenario(store: Store, say: Callable[[str], None]) -> dict:
    """The five phases; returns the claims, the checkpoint and the similar errors found."""
    from .records import ErrorPatternRepository

    errors = ErrorPatternRepository(store)  # kept in this project: see the module docstring
    for error_type, message, solution in KNOWN_ERRORS:
        errors.record_error(None, error_type, message, solution=solution)
    checkpoint = _plan(store)
    say(f"planned {len(TASKS)} tasks in {len(MILESTONES)} milestones; checkpoint taken")
    _phase(store, 2, "in_progress")
    store.workflow.set_validation_feedback("codex", {"approved": True, "notes": "plan is sound"})
    _phase(store, 2, "completed")
    _phase(store, 3, "in_progress")
    store.workflow.increment_iteration()
    claims, similar = _work(store, errors)
    say(f"{len(claims)} claims with claim_next; T1 failed once and was retried")
    _phase(store, 3, "completed")
    _phase(store, 4, "in_progress")
    store.workflow.set_verification_feedback("claude", {"approved": True})
    _phase(store, 4, "completed")
    _phase(store, 5, "completed")
    return {
        "claims": claims,
        "checkpoint": {
            "id": checkpoint.id,
            "name": checkpoint.name,
            "phase": checkpoint.phase,
            "task_progress": checkpoint.task_progress,
        },
        "similar": {"query": PARAPHRASE, "matches": similar},
    }


def _phase(store: Store, phase: int, status: str) -> None:
    """Set a phase's status and emit its event, in one commit."""
    with store.transaction() as tx:
        tx.workflow.set_phase(phase, status)
        event = "phase_started" if status == "in_progress" else f"phase_{status}"
        tx.events.emit(event, {"phase": phase})


def _plan(store: Store) -> Any:
    """Phase 1: the state, the tasks (one commit), the milestones and a checkpoint."""
    store.workflow.initialize_state(project_dir=store.project, execution_mode="afk")
    _phase(store, 1, "in_progress")
    store.tasks.bulk_create(TASKS)  # all or none
    for milestone_id, name, task_ids in MILESTONES:
        store.milestones.create_milestone(milestone_id, name, task_ids=task_ids)
    store.workflow.set_plan({"tasks": [t["task_id"] for t in TASKS]})
    _phase(store, 1, "completed")
    return store.checkpoints.create_checkpoint("plan approved", notes="before implementation")


def _work(store: Store, errors: Any) -> tuple[list[dict], list[dict]]:
    """Phase 3: the workers take turns at claim_next until no task is available."""
    claims: list[dict] = []
    similar: list[dict] = []
    while True:
        worker, agent, model = WORKERS[len(claims) % len(WORKERS)]
        task = store.tasks.claim_next(worker)
        if task is None:
            return claims, similar
        ok = not (task.task_id == "T1" and task.attempts == 0)  # to show a retry
        result = _attempt(store, task, agent, model, ok)
        claims.append(
            {
                "task_id": task.task_id,
                "worker": worker,
                "attempt": task.attempts + 1,
                "result": result,
            }
        )
        if not ok:
            errors.record_error(task.task_id, *FAILURE, context={"phase": 3}, solution=SOLUTION)
            similar = [
                {
                    "score": round(m.score, 3),
                    "error_type": m.pattern.error_type,
                    "error_message": m.pattern.error_message,
                    "solution": m.pattern.solution,
                }
                for m in errors.find_similar(PARAPHRASE, limit=3)
            ]


def _attempt(store: Store, task: Any, agent: str, model: str, ok: bool) -> str:
    """One invocation: reserve its cost, log it, record its result with the task's status."""
    if (
        store.budget.reserve(COST_USD, BUDGET_USD, agent=agent, task_id=task.task_id, model=model)
        is None
    ):
        store.tasks.set_status(task.task_id, "blocked", error="budget exhausted")
        return "blocked"
    with store.transaction() as tx:  # the entry and the attempt count commit together
        entry = tx.audit.create_entry(
            agent=agent, task_id=task.task_id, prompt=f"Implement {task.title}"
        )
        tx.tasks.increment_attempts(task.task_id)
    duration = 20.0 + len(task.title)  # seconds: made up, but the same on every run
    with store.transaction() as tx:  # the result, the task and the token usage: one commit
        tx.audit.update_result(
            entry.id,
            success=ok,
            exit_code=0 if ok else 1,
            duration_seconds=duration,
            cost_usd=COST_USD,
            model=model,
        )
        if ok:
            tx.tasks.set_status(task.task_id, "completed")
        else:  # back to pending, for the next claim
            tx.tasks.set_status(task.task_id, "pending", error=FAILURE[1])
        tx.workflow.add_token_usage(tokens_input=1200, tokens_output=300, cost_usd=COST_USD)
    return "completed" if ok else "failed"


def _keys(store: Store) -> set[tuple[str, str]]:
    return {(t, doc["id"]) for t in store.tables() for doc in store.find(t)}


def _claim(store: Store, reset: bool) -> None:
    """Refuse a project holding records an earlier demo run did not write (unless reset)."""
    if reset:
        return
    marker = store.get(*MARKER)
    mine = {tuple(k) for k in (marker or {}).get("keys", [])} | {MARKER}
    foreign = sorted(_keys(store) - mine)
    if foreign:
        table, id = foreign[0]
        raise StoreError(
            f"project {store.project!r} holds {len(foreign)} record(s) the demo did not write "
            f"(e.g. {table}:{id}): choose another --project, or pass --reset to empty it"
        )


def _reset(store: Store) -> None:
    """Empty the demo project so every run starts from the same state."""
    for table in store.tables():
        with store.transaction() as tx:
            for doc in store.find(table):
                tx.delete(table, doc["id"])
