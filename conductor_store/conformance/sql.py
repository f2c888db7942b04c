"""store.query: the seed's two queries, every construct of the portable SELECT, NULL and missing
fields in every aggregate and comparison, the corpus against the model, read-only-ness, errors."""

from __future__ import annotations

import pytest

from conductor_store import QueryError

from . import sql_model as model
from ._support import raises_naming, snapshot
from .sql_corpus import AUDIT, corpus, identical

SEED_ROWS = "SELECT * FROM audit_entries WHERE task_id = 'T1' AND status = 'failed'"
SEED_TOTALS = "SELECT agent, math::sum(cost_usd) as total FROM audit_entries GROUP BY agent"
CORPUS = corpus()


class SqlTests:
    @pytest.fixture
    def audit(self, store):
        with store.transaction() as tx:
            for key in sorted(AUDIT, reverse=True):
                tx.put("audit_entries", key, AUDIT[key])
        return store

    def rows(self, store, sql, params=None):
        return store.query(sql, params)

    # -- the seed ------------------------------------------------------------------------
    def test_seed_queries_run_unchanged(self, audit):
        """Both queries of the seed run as written, with SQL's answers."""
        found = audit.query(SEED_ROWS)
        assert [r["id"] for r in found] == ["e01", "e03"]
        assert found[0] == audit.get("audit_entries", "e01")
        totals = audit.query(SEED_TOTALS)
        assert [list(r) for r in totals] == [["agent", "total"]] * 6
        assert [(r["agent"], r["total"]) for r in totals] == [
            (None, 0.7),  # NULL and missing agents: one group; the NULL cost is ignored
            (1, None),  # 1 and 1.0: one group; SUM of no numbers is NULL
            ("Claude", 3),
            ("claude", 2.05),
            ("codex", 2.1),
            ("gemini", None),
        ]

    # -- select list ---------------------------------------------------------------------
    def test_fields_dotted_paths_and_aliases(self, audit):
        """Fields, dotted paths (NULL through a non-object) and AS; unaliased columns are
        named by their text."""
        rows = audit.query(
            "SELECT id, meta.model, agent AS who FROM audit_entries WHERE task_id = 'T2'"
        )
        assert rows == [
            {"id": "e04", "meta.model": None, "who": "codex"},
            {"id": "e05", "meta.model": None, "who": None},
            {"id": "e06", "meta.model": "opus", "who": None},
        ]

    def test_expressions_in_the_select_list(self, audit):
        """Arithmetic, COALESCE, LOWER/UPPER, LENGTH and string::lowercase; NULL or a wrong
        kind gives NULL; / always gives a float."""
        rows = audit.query(
            "SELECT tokens * 2 + 1 AS a, tokens / 4 AS d, -tokens AS neg, COALESCE(agent, 'x') "
            "AS c, LOWER(agent) AS lo, UPPER(agent) AS up, LENGTH(agent) AS n, "
            "string::lowercase(agent) AS sl, cost_usd / 0 AS z FROM audit_entries "
            "WHERE id IN ('e04', 'e05', 'e09', 'e11')"
        )
        assert [r["a"] for r in rows] == [601, 21, 3, 7]
        assert [r["d"] for r in rows] == [75.0, 2.5, 0.25, 0.75]
        assert [r["neg"] for r in rows] == [-300, -10, -1, -3]
        assert [r["c"] for r in rows] == ["codex", "x", "Claude", 1]
        assert [r["lo"] for r in rows] == ["codex", None, "claude", None]
        assert [r["up"] for r in rows] == ["CODEX", None, "CLAUDE", None]
        assert [r["n"] for r in rows] == [5, None, 6, None]
        assert [r["sl"] for r in rows] == [r["lo"] for r in rows]
        assert [r["z"] for r in rows] == [None] * 4

    def test_column_names_of_unaliased_expressions(self, audit):
        """Unaliased columns are named by the expression's canonical text."""
        row = audit.query(
            "SELECT COUNT(*), count(), COUNT(DISTINCT agent), SUM(tokens), math::sum(tokens), "
            "AVG(tokens), math::mean(tokens), MIN(tokens), math::max(tokens) FROM audit_entries"
        )[0]
        assert list(row) == [
            "COUNT(*)", "count()", "COUNT(DISTINCT agent)", "SUM(tokens)", "math::sum(tokens)",
            "AVG(tokens)", "math::mean(tokens)", "MIN(tokens)", "math::max(tokens)",
        ]  # fmt: skip
        assert list(row.values()) == [12, 12, 5, 722, 722, 722 / 11, 722 / 11, 1, 300]

    # -- aggregates and NULL ---------------------------------------------------------------
    def test_aggregates_ignore_null_missing_and_other_kinds(self, audit):
        """COUNT(*) counts rows, COUNT(f) non-NULL values; SUM/AVG see only numbers, MIN/MAX
        only booleans, numbers and strings."""
        row = audit.query(
            "SELECT COUNT(*) AS n, COUNT(cost_usd) AS c, SUM(cost_usd) AS s, AVG(cost_usd) AS a, "
            "MIN(cost_usd) AS lo, MAX(cost_usd) AS hi FROM audit_entries"
        )[0]
        numbers = [0.25, 1.5, 0.1, 2, 0.7, 3, 0.3]
        assert row["n"] == 12 and row["c"] == 10  # e05 NULL, e08 missing
        assert row["s"] == pytest.approx(sum(numbers)) and isinstance(row["s"], float)
        assert row["a"] == pytest.approx(sum(numbers) / 7)
        assert row["lo"] is True  # booleans rank before numbers
        assert row["hi"] == "n/a"  # strings rank after numbers; the array is ignored

    def test_aggregates_over_no_rows(self, audit):
        """Without GROUP BY, no rows still give one row: COUNT 0, the others NULL."""
        for sql in (
            "SELECT COUNT(*) AS n, COUNT(agent) AS c, SUM(tokens) AS s, AVG(tokens) AS a, "
            "MIN(tokens) AS lo, MAX(tokens) AS hi FROM audit_entries WHERE task_id = 'none'",
            "SELECT COUNT(*) AS n, COUNT(agent) AS c, SUM(tokens) AS s, AVG(tokens) AS a, "
            "MIN(tokens) AS lo, MAX(tokens) AS hi FROM nothing_here GROUP ALL",
        ):
            assert audit.query(sql) == [
                {"n": 0, "c": 0, "s": None, "a": None, "lo": None, "hi": None}
            ]
        assert audit.query("SELECT agent, COUNT(*) FROM nothing_here GROUP BY agent") == []

    def test_sum_of_integers_is_an_integer_and_avg_a_float(self, audit):
        """SUM of integers is an integer; with a float among them, a float; AVG a float."""
        row = audit.query(
            "SELECT SUM(tokens) AS s, AVG(tokens) AS a FROM audit_entries WHERE tokens <= 4"
        )[0]
        assert row == {"s": 10, "a": 2.5} and type(row["s"]) is int
        row = audit.query("SELECT SUM(cost_usd) AS s FROM audit_entries WHERE task_id = 'T2'")
        assert row == [{"s": 2.7}] and type(row[0]["s"]) is float

    def test_sum_of_floats_is_correctly_rounded(self, store):
        """SUM and AVG of floats are correctly rounded, whatever the row order: ten 0.1 sum
        to 1.0 (adding one by one gives 0.9999999999999999), 1e16 + 1 + 1 to 1e16 + 2."""
        with store.transaction() as tx:
            for i in range(10):
                tx.put("costs", f"c{i}", {"v": 0.1, "g": "tenth"})
            for i, value in enumerate([1e16, 1.0, 1.0]):
                tx.put("costs", f"z{i}", {"v": value, "g": "big"})
        rows = store.query("SELECT g, SUM(v) AS s, AVG(v) AS a FROM costs GROUP BY g")
        assert rows == [
            {"g": "big", "s": 1.0000000000000002e16, "a": 1.0000000000000002e16 / 3},
            {"g": "tenth", "s": 1.0, "a": 0.1},
        ]

    def test_count_distinct_by_kind(self, audit):
        """COUNT(DISTINCT f): 1 and 1.0 are one value, true is another, NULL is none."""
        rows = audit.query(
            "SELECT COUNT(DISTINCT agent) AS a, COUNT(DISTINCT status) AS s FROM audit_entries "
            "WHERE task_id = 'T4' OR agent IS NULL"
        )
        assert rows == [{"a": 2, "s": 3}]  # agents 'claude', 1 (= 1.0); 'ok', true, 'failed'

    def test_comparisons_with_null_are_unknown_everywhere(self, audit):
        """In WHERE, HAVING and the select list a comparison with NULL is NULL (unknown)."""
        rows = audit.query(
            "SELECT id, tokens > 5 AS big, NOT tokens > 5 AS small, tokens = NULL AS eq "
            "FROM audit_entries WHERE task_id = 'T2'"
        )
        assert [(r["big"], r["small"], r["eq"]) for r in rows] == [
            (True, False, None),
            (True, False, None),
            (None, None, None),
        ]
        rows = audit.query(
            "SELECT agent IN ('codex') AS i, agent NOT IN ('codex') AS ni, agent LIKE 'c%' AS l, "
            "agent IS NULL AS n, agent IS NOT NULL AS nn, COALESCE(agent, tokens) AS c "
            "FROM audit_entries WHERE task_id = 'T2'"
        )
        assert rows == [  # e04 'codex', e05 NULL, e06 missing
            {"i": True, "ni": False, "l": True, "n": False, "nn": True, "c": "codex"},
            {"i": None, "ni": None, "l": None, "n": True, "nn": False, "c": 10},
            {"i": None, "ni": None, "l": None, "n": True, "nn": False, "c": None},
        ]
        assert audit.query(
            "SELECT id FROM audit_entries WHERE tokens != 10 AND task_id = 'T2'"
        ) == [{"id": "e04"}]
        having = audit.query(
            "SELECT agent FROM audit_entries GROUP BY agent HAVING SUM(cost_usd) < 100"
        )
        assert [r["agent"] for r in having] == [None, "Claude", "claude", "codex"]

    # -- grouping and ordering -------------------------------------------------------------
    def test_group_by_dotted_path_and_several_keys(self, audit):
        """GROUP BY a dotted path (NULL, missing and through-a-string in one NULL group) and
        by two fields."""
        rows = audit.query(
            "SELECT meta.model, COUNT(*) AS n FROM audit_entries GROUP BY meta.model"
        )
        assert rows == [
            {"meta.model": None, "n": 7},
            {"meta.model": "gpt", "n": 1},
            {"meta.model": "opus", "n": 3},
            {"meta.model": "sonnet", "n": 1},
        ]
        rows = audit.query(
            "SELECT task_id, status, count() AS n FROM audit_entries WHERE task_id < 'T3' "
            "GROUP BY task_id, status"
        )
        assert [(r["task_id"], r["status"], r["n"]) for r in rows] == [
            ("T1", "failed", 2), ("T1", "ok", 1), ("T2", "failed", 1), ("T2", "ok", 2)
        ]  # fmt: skip

    def test_order_by_keys_aliases_aggregates_and_nulls(self, audit):
        """ORDER BY several keys, ASC/DESC, aliases, aggregates and positions; NULLs first
        ascending, last descending; ties keep the default order."""
        rows = audit.query("SELECT id, tokens FROM audit_entries ORDER BY tokens")
        assert [r["id"] for r in rows][:3] == ["e06", "e09", "e10"]
        rows = audit.query("SELECT id FROM audit_entries ORDER BY tokens DESC")
        assert [r["id"] for r in rows][0] == "e04" and rows[-1]["id"] == "e06"
        rows = audit.query(
            "SELECT status, COUNT(*) AS n FROM audit_entries GROUP BY status "
            "ORDER BY n DESC, status"
        )
        assert [(r["status"], r["n"]) for r in rows] == [
            ("ok", 6), ("failed", 4), (True, 1), ("retry", 1)
        ]  # fmt: skip
        rows = audit.query(
            "SELECT status FROM audit_entries GROUP BY status ORDER BY COUNT(*), 1 DESC"
        )
        assert [r["status"] for r in rows] == ["retry", True, "failed", "ok"]

    def test_limit_offset_start_and_distinct(self, audit):
        """LIMIT/OFFSET, SurrealQL's START, parameters for both, and DISTINCT."""
        ids = [r["id"] for r in audit.query("SELECT id FROM audit_entries LIMIT 3 OFFSET 2")]
        assert ids == ["e03", "e04", "e05"]
        assert [r["id"] for r in audit.query("SELECT id FROM audit_entries LIMIT 3 START 2")] == ids
        assert [
            r["id"]
            for r in audit.query("SELECT id FROM audit_entries LIMIT :n START :s", {"n": 3, "s": 2})
        ] == ids
        rows = audit.query("SELECT DISTINCT task_id FROM audit_entries ORDER BY task_id DESC")
        assert rows == [{"task_id": t} for t in ("T4", "T3", "T2", "T1")]

    def test_parameters(self, audit):
        """:name parameters in WHERE (IN :list too), in the select list and in HAVING."""
        rows = audit.query(
            "SELECT agent, SUM(tokens) * :k AS t FROM audit_entries WHERE status IN :s "
            "GROUP BY agent HAVING SUM(tokens) > :min",
            {"k": 2, "s": ["ok", "failed"], "min": 50},
        )
        assert rows == [{"agent": "claude", "t": 704}, {"agent": "codex", "t": 680}]
        with raises_naming(QueryError, ":min"):
            audit.query("SELECT id FROM audit_entries WHERE tokens > :min")

    # -- the corpus against the model -----------------------------------------------------
    def test_corpus_matches_the_model(self, audit):
        """More than 100 queries give exactly the model's rows: names, values (an int is not
        a float), and order."""
        assert len(CORPUS) >= 100
        docs = audit.find("audit_entries")
        for spec in CORPUS:
            sql = model.to_sql(spec, "audit_entries")
            got, want = audit.query(sql), model.run(spec, docs)
            assert identical(got, want), f"{sql}\n got: {got}\nwant: {want}"
            expected_names = model.names(spec)
            if expected_names is not None:
                assert all(list(row) == expected_names for row in got), sql

    # -- transactions, read-only -----------------------------------------------------------
    def test_transaction_query_sees_its_writes(self, audit):
        """tx.query answers over the table as the transaction sees it."""
        sql = "SELECT agent, COUNT(*) AS n FROM audit_entries WHERE task_id = 'T1' GROUP BY agent"
        tx = audit.transaction()
        tx.insert("audit_entries", {"task_id": "T1", "agent": "new"}, id="e99")
        tx.delete("audit_entries", "e03")
        tx.update("audit_entries", "e01", {"agent": "codex"})
        assert tx.query(sql) == [{"agent": "claude", "n": 1}, {"agent": "codex", "n": 1},
                                 {"agent": "new", "n": 1}]  # fmt: skip
        assert audit.query(sql) == [{"agent": "claude", "n": 2}, {"agent": "codex", "n": 1}]
        tx.rollback()
        assert audit.query(sql) == [{"agent": "claude", "n": 2}, {"agent": "codex", "n": 1}]

    def test_queries_change_nothing(self, audit):
        """No query, refused or not, changes data or the change log."""
        before = snapshot(audit)
        for sql in (
            "DELETE FROM audit_entries",
            "UPDATE audit_entries SET agent = 'x'",
            "SELECT * FROM audit_entries; DELETE FROM audit_entries",
            SEED_TOTALS,
        ):
            try:
                audit.query(sql)
            except QueryError:
                pass
        assert snapshot(audit) == before

    # -- errors ----------------------------------------------------------------------------
    @pytest.mark.parametrize(
        "sql,fragments",
        [
            ("DELETE FROM audit_entries", ["DELETE", "read-only"]),
            ("INSERT INTO audit_entries (a) VALUES (1)", ["INSERT"]),
            ("SELECT a FROM audit_entries JOIN other ON a = b", ["JOIN", "line 1, column"]),
            ("SELECT a FROM (SELECT a FROM audit_entries)", ["subqueries"]),
            ("SELECT a FROM audit_entries WHERE a IN (SELECT b FROM x)", ["subqueries", "column"]),
            ("SELECT ROW_NUMBER() OVER (ORDER BY a) FROM audit_entries", ["window", "column 8"]),
            ("SELECT nosuch(a) FROM audit_entries", ["unknown function", "nosuch", "column 8"]),
            ("SELECT a FROM audit_entries WHERE x =", ["syntax error", "column"]),
            ("SELECT agent, tokens FROM audit_entries GROUP BY agent", ["tokens", "GROUP BY"]),
            ("SELECT a FROM audit_entries WHERE COUNT(*) > 1", ["aggregate", "HAVING"]),
            ("SELECT a FROM audit_entries UNION SELECT b FROM audit_entries", ["UNION"]),
            ("SELECT a, a FROM audit_entries", ["two columns", "alias"]),
            ("SELECT a FROM", ["syntax error"]),
            ("SELECT a", ["FROM"]),
            ("SELECT SUM(DISTINCT a) FROM audit_entries", ["DISTINCT", "COUNT"]),
            ("SELECT CAST(a AS INT) FROM audit_entries", ["cast"]),
            ("SELECT CASE WHEN a = 1 THEN 2 END FROM audit_entries", ["CASE"]),
            ("SELECT math::floor(a) FROM audit_entries", ["unknown function", "math::floor"]),
            ("SELECT VALUE a FROM audit_entries", ["SELECT VALUE"]),
            ("SELECT FROM audit_entries", ["at least one column"]),
            ("SELECT a FROM audit_entries WHERE a BETWEEN 1 AND 2", ["BETWEEN", "column 35"]),
            ("SELECT a FROM audit_entries WHERE a = :nope", ["missing parameter :nope"]),
            ("SELECT 'open FROM audit_entries", ["syntax error", "not closed"]),
        ],
    )
    def test_unsupported_constructs_raise_query_error(self, audit, sql, fragments):
        """Writes, joins, subqueries, windows, unknown functions and syntax errors raise
        QueryError naming the construct (and where it stands), never sqlglot's words."""
        with raises_naming(QueryError, *fragments) as info:
            audit.query(sql)
        assert "sqlglot" not in str(info.value) and "<class" not in str(info.value)
