"""``stats``, ``init-schema`` and ``demo`` on the orchestrator records, through click's runner.

``stats`` runs on a data set built here with the repositories; its figures are checked against
values computed by hand from that data set (see ``build_records``).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import conductor_store as cs
from conductor_store.cli import main
from conductor_store.cli.dbcli import main as dbcli
from conductor_store.cli.records_cmds import collect, render
from conductor_store.records import index_specs


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def build_records(url: str, project: str = "p") -> None:
    """The data set the figures below are computed from, by hand:

    workflow  phases 1, 2 completed, 3 current; 2 iterations; 500/100 tokens, $0.02; 1 commit
    tasks     T1, T2 completed, T3 failed, T4 pending                    -> 2/4 = 50%
    audit     claude/opus success 10 s $0.10 | claude/opus failed 20 s $0.20
              codex/gpt-5 success 30 s $0.30 | codex timeout 60 s | claude error | codex pending
              -> 5 finished, 2 success (40%), failed 2 (the error too), 120 s, $0.60
    budget    claude $0.25 (1000/200, opus) | codex $0.50 (3000/400, gpt-5)
              | claude reserves $0.10 (limit $1) | a $0.50 reserve over the limit writes nothing
    """
    with cs.open(url, project=project) as s:
        s.workflow.initialize_state("/proj")
        s.workflow.set_phase(1, "completed")
        s.workflow.set_phase(2, "completed")
        s.workflow.set_phase(3)
        s.workflow.increment_iteration()
        s.workflow.increment_iteration()
        s.workflow.add_token_usage(500, 100, 0.02)
        s.workflow.record_git_commit(1, "abc123", "plan")
        s.tasks.bulk_create(
            [
                {"task_id": "T1", "title": "Parser", "priority": "high"},
                {"task_id": "T2", "title": "CLI", "dependencies": ["T1"]},
                {"task_id": "T3", "title": "Docs"},
                {"task_id": "T4", "title": "Bench", "priority": "low"},
            ]
        )
        s.tasks.set_status("T1", "completed")
        s.tasks.set_status("T2", "completed")
        s.tasks.set_status("T3", "failed")
        audit = s.audit
        for agent, task, ok, seconds, cost, model in (
            ("claude", "T1", True, 10.0, 0.10, "opus"),
            ("claude", "T3", False, 20.0, 0.20, "opus"),
            ("codex", "T2", True, 30.0, 0.30, "gpt-5"),
        ):
            entry = audit.create_entry(agent=agent, task_id=task, prompt=f"do {task}")
            audit.update_result(entry.id, ok, 0 if ok else 1, seconds, cost_usd=cost, model=model)
        audit.mark_timeout(audit.create_entry("codex", "T3", "again").id, 60.0)
        audit.mark_error(audit.create_entry("claude", "T3", "once more").id, "crashed")
        audit.create_entry("codex", "T4", "bench it")  # pending
        s.budget.record_spend("claude", 0.25, "T1", tokens_input=1000, tokens_output=200,
                              model="opus")  # fmt: skip
        s.budget.record_spend("codex", 0.5, "T3", tokens_input=3000, tokens_output=400,
                              model="gpt-5")  # fmt: skip
        assert s.budget.reserve(0.10, 1.0, agent="claude", task_id="T1") is not None
        assert s.budget.reserve(0.50, 1.0, agent="claude") is None  # 0.85 + 0.5 > 1


@pytest.fixture
def url(tmp_path):
    url = f"json://{tmp_path}/data"
    build_records(url)
    return url


def check_stats(report: dict) -> None:
    """The figures of ``build_records``, computed by hand."""
    approx = pytest.approx
    w = report["workflow"]
    assert (w["current_phase"], w["completed_phases"], w["total_phases"]) == (3, 2, 5)
    assert (w["iteration_count"], w["execution_mode"], w["total_commits"]) == (2, "afk", 1)
    assert w["token_usage"] == {"tokens_input": 500, "tokens_output": 100, "cost_usd": 0.02}
    t = report["tasks"]
    assert (t["total"], t["completed"], t["pending"], t["failed"]) == (4, 2, 1, 1)
    assert t["in_progress"] == 0 and t["completion_rate"] == 0.5
    a = report["audit"]
    assert (a["total"], a["success_count"], a["failed_count"]) == (5, 2, 2)
    assert (a["timeout_count"], a["error_count"], a["pending_count"]) == (1, 1, 1)
    assert a["success_rate"] == approx(0.4)
    assert a["total_duration_seconds"] == approx(120.0) and a["avg_duration_seconds"] == 30.0
    assert a["total_cost_usd"] == approx(0.6) and a["avg_cost_usd"] == approx(0.2)
    claude, codex = a["by_agent"]["claude"], a["by_agent"]["codex"]
    assert (claude["total"], claude["success_count"], claude["failed_count"]) == (3, 1, 2)
    assert claude["success_rate"] == approx(1 / 3) and claude["total_cost_usd"] == approx(0.3)
    assert claude["total_duration_seconds"] == 30.0 and claude["avg_duration_seconds"] == 15.0
    assert (codex["total"], codex["timeout_count"], codex["pending_count"]) == (2, 1, 1)
    assert codex["success_rate"] == 0.5 and codex["avg_duration_seconds"] == 45.0
    models = a["by_model"]
    assert sorted(models) == ["gpt-5", "opus", "unknown"]
    assert (models["opus"]["total"], models["opus"]["success_rate"]) == (2, 0.5)
    assert models["gpt-5"]["total_cost_usd"] == approx(0.3)
    unknown = models["unknown"]
    assert (unknown["total"], unknown["pending_count"], unknown["success_rate"]) == (2, 1, 0.0)
    b = report["budget"]
    assert b["total_cost_usd"] == approx(0.85) and b["record_count"] == 3
    assert (b["total_tokens_input"], b["total_tokens_output"]) == (4000, 600)
    assert b["by_agent"] == {"claude": approx(0.35), "codex": approx(0.5)}
    assert b["by_model"] == {"gpt-5": 0.5, "opus": 0.25, "unknown": approx(0.1)}
    assert b["by_task"] == {"T1": approx(0.35), "T3": 0.5}


def table_rows(lines: list[str], header: str) -> dict[str, list[str]]:
    """The rows of the aligned table whose header line starts with ``header``, by first cell."""
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [header])
    assert set(lines[start + 1].split()) == {"-" * len(c) for c in lines[start + 1].split()}
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("  ") or line.split()[0] in ("agent", "model"):
            break
        cells = line.split("  ")
        cells = [c.strip() for c in cells if c.strip()]
        rows[cells[0]] = cells[1:]
    return rows


# -- stats --------------------------------------------------------------------------------
def test_stats_json_gives_the_hand_computed_figures(url):
    result = run("stats", "--url", url, "--project", "p", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["project"] == "p"
    check_stats(report)


def test_stats_text_shows_the_seeds_four_blocks(url):
    result = run("stats", "--url", url, "--project", "p")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for block in ("Workflow State", "Tasks", "Audit Trail", "Budget"):
        assert block in lines
    text = result.stdout
    assert "phase 3, completed phases 2/5, iterations 2, mode afk" in text
    assert "total 4, completed 2, pending 1, in progress 0, failed 1, completion rate 50.0%" in text
    assert (
        "invocations 5 finished (1 pending), success rate 40.0%, total duration 2m00s, "
        "total cost $0.6000" in text
    )
    assert "total cost $0.8500 in 3 records, tokens 4,000 in / 600 out" in text
    agents = table_rows(lines, "agent")
    assert agents["claude"] == ["3", "1", "2", "0", "0", "33.3%", "$0.3000", "30.0 s", "15.0 s"]
    assert agents["codex"] == ["2", "1", "0", "1", "1", "50.0%", "$0.3000", "90.0 s", "45.0 s"]
    models = table_rows(lines, "model")
    assert models["opus"][:6] == ["2", "1", "1", "0", "0", "50.0%"]
    assert set(models) == {"gpt-5", "opus", "unknown"}


def test_stats_of_an_empty_project_says_not_initialized(tmp_path):
    result = run("stats", "--url", f"json://{tmp_path}/d", "--project", "empty")
    assert result.exit_code == 0, result.output
    assert "  not initialized" in result.stdout
    assert "total 0, completed 0" in result.stdout and "success rate 0.0%" in result.stdout
    report = json.loads(run("stats", "--url", f"json://{tmp_path}/d", "--json").stdout)
    assert report["workflow"] == {"status": "not_initialized"}
    assert report["audit"]["total"] == 0 and report["budget"]["record_count"] == 0


def test_stats_on_mem_builds_and_reads_in_one_process():
    with cs.open("mem://") as store:  # mem:// is private to one open: use the function
        store.tasks.create_task("T1", "One")
        store.tasks.set_status("T1", "completed")
        report = collect(store)
    assert report["tasks"]["completion_rate"] == 1.0
    assert "completion rate 100.0%" in "\n".join(render(report))


def test_db_cli_stats_takes_the_project_with_p(url):
    result = CliRunner().invoke(dbcli, ["stats", "-p", "p", "--url", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "completed phases 2/5" in result.stdout and "success rate 40.0%" in result.stdout


# -- init-schema --------------------------------------------------------------------------
def spec(s) -> dict:
    return {"table": s.table, "fields": list(s.fields), "unique": s.unique}


@pytest.mark.parametrize("scheme", ["json", "surrealkv"])
def test_init_schema_twice_reports_nothing_new_the_second_time(tmp_path, scheme):
    url = f"{scheme}://{tmp_path}/db"
    first = run("init-schema", "--url", url, "--project", "p", "--json")
    assert first.exit_code == 0, first.output
    first_report = json.loads(first.stdout)
    declared = first_report["declared"]
    assert [d for d in declared if not d["unique"]] == [
        spec(s) for s in index_specs() if not s.unique
    ]
    unique = [d for d in declared if d["unique"]]  # where the backend enforces them
    assert unique in ([], [spec(s) for s in index_specs() if s.unique])
    with cs.open(url, project="p") as store:
        kept = [spec(s) for s in store.indexes()]
    assert first_report["new"] == first_report["indexes"] == kept  # a fresh project
    assert all(k in declared for k in kept)
    second = json.loads(run("init-schema", "--url", url, "--project", "p", "--json").stdout)
    assert second["new"] == [] and second["indexes"] == kept
    assert second["declared"] == declared
    text = run("init-schema", "--url", url, "--project", "p")
    assert text.exit_code == 0
    head = text.stdout.splitlines()[0]
    assert head == (
        f"project 'p' ({first_report['backend']}): {len(declared)} indexes declared, 0 new; "
        f"the backend keeps {len(kept)}"
    )
    assert "tasks            status, priority_rank, created_at" in text.stdout


def test_db_cli_init_schema_takes_the_project_with_p(tmp_path):
    url = f"json://{tmp_path}/db"
    result = CliRunner().invoke(dbcli, ["init-schema", "-p", "p", "--url", url])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("project 'p' (json): ")


# -- demo ---------------------------------------------------------------------------------
def check_demo(report: dict) -> None:
    """What the scenario of conductor_store.demo must have done."""
    claims = [(c["task_id"], c["worker"], c["attempt"], c["result"]) for c in report["claims"]]
    assert claims == [  # priority first, dependencies respected, T1's failure retried
        ("T1", "claude-1", 1, "failed"),
        ("T1", "codex-1", 2, "completed"),
        ("T2", "claude-1", 1, "completed"),
        ("T3", "codex-1", 1, "completed"),
    ]
    assert report["workflow"]["completed_phases"] == 5 and report["workflow"]["current_phase"] == 5
    assert report["tasks"]["completed"] == 3 and report["tasks"]["completion_rate"] == 1.0
    audit = report["audit"]
    assert (audit["total"], audit["success_count"], audit["failed_count"]) == (4, 3, 1)
    assert audit["by_agent"]["claude"]["failed_count"] == 1
    assert sorted(audit["by_model"]) == ["gpt-5", "opus"]
    assert report["budget"]["total_cost_usd"] == pytest.approx(0.2)
    assert report["budget"]["record_count"] == 4 and report["budget"]["limit_usd"] == 1.0
    best = report["similar"]["matches"][0]
    assert best["error_type"] == "ConnectionError" and best["solution"]
    assert best["score"] > max(m["score"] for m in report["similar"]["matches"][1:])
    assert report["checkpoint"]["task_progress"] == {"pending": 3}
    assert report["tables"]["error_patterns"] == 3 and report["tables"]["checkpoints"] == 1
    assert report["tables"]["workflow_events"] == 9  # 5 phases: 4 started + 5 finished
    assert report["commits"] < report["changes"]  # transactions group several writes


@pytest.mark.parametrize("where", ["json", "mem"])
def test_demo_runs_twice_in_a_row_with_the_same_outcome(tmp_path, where):
    url = f"json://{tmp_path}/data" if where == "json" else "mem://"
    first = run("demo", "--url", url, "--json")
    assert first.exit_code == 0, first.output
    second = run("demo", "--url", url, "--json")
    assert second.exit_code == 0, second.output
    reports = [json.loads(first.stdout), json.loads(second.stdout)]
    for report in reports:
        check_demo(report)
    assert reports[0]["tables"] == reports[1]["tables"]
    if where == "json":
        assert reports[1]["last_seq"] > reports[0]["last_seq"]
        with cs.open(url, project="demo") as store:
            assert store.tasks.get_progress()["completed"] == 3
        with cs.open(url, project="shared") as shared:  # the demo writes nowhere else
            assert shared.tables() == []


def test_demo_text_summary_names_claims_patterns_and_stats(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--url", f"{tmp_path}/data"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"Store: json at {tmp_path}/data (project demo)")
    assert "T1       claude-1        1  failed" in out
    assert "ConnectionError: Connection refused" in out
    assert "solution: start the database first" in out
    for block in ("Workflow State", "Tasks", "Audit Trail", "Budget"):
        assert f"\n{block}\n" in out
    assert "completed phases 5/5" in out and "success rate 75.0%" in out
    assert "limit $1.0000, remaining $0.8000" in out
    assert "planned 3 tasks" in result.stderr  # progress goes to stderr


def test_demo_refuses_a_project_holding_records_it_did_not_write(url):
    result = run("demo", "--url", url, "--project", "p")
    assert result.exit_code == 1
    assert "the demo did not write" in result.stderr and "--reset" in result.stderr
    with cs.open(url, project="p") as store:  # nothing touched
        check_stats(
            {
                "workflow": store.workflow.get_summary(),
                "tasks": store.tasks.get_progress(),
                "audit": store.audit.get_statistics().to_dict(),
                "budget": store.budget.get_summary(),
            }
        )
    reset = run("demo", "--url", url, "--project", "p", "--reset", "--json")
    assert reset.exit_code == 0
    check_demo(json.loads(reset.stdout))
