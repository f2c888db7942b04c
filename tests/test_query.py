"""Unit tests of the query layer: parsing to nodes, three-valued evaluation, ordering, options."""

from __future__ import annotations

import datetime
import math
import random

import pytest

from conductor_store.errors import QueryError
from conductor_store.query import (
    And,
    Compare,
    In,
    IsNull,
    Like,
    Not,
    Or,
    Query,
    compile_query,
    lookup,
)

NOTHING = In(("id",), ())  # what a where that can never be true compiles to


def where_of(where, params=None):
    return compile_query(where, params).where


def matches(where, doc, params=None) -> bool:
    return compile_query(where, params).matches(doc)


# -- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, node",
    [
        ("status = 'done'", Compare("=", ("status",), "done")),
        ("a <> 1", Compare("!=", ("a",), 1)),
        ("a != 1", Compare("!=", ("a",), 1)),
        ("a < 1", Compare("<", ("a",), 1)),
        ("a <= 1", Compare("<=", ("a",), 1)),
        ("a > 1", Compare(">", ("a",), 1)),
        ("a >= 1", Compare(">=", ("a",), 1)),
        # a field on the right is moved to the left, the operator flipped
        ("5 < priority", Compare(">", ("priority",), 5)),
        ("5 <= priority", Compare(">=", ("priority",), 5)),
        ("5 > priority", Compare("<", ("priority",), 5)),
        ("5 >= priority", Compare("<=", ("priority",), 5)),
        ("'x' = a", Compare("=", ("a",), "x")),
        ("1 != a", Compare("!=", ("a",), 1)),
        # literals
        ("x = -5", Compare("=", ("x",), -5)),
        ("x = -1.5", Compare("=", ("x",), -1.5)),
        ("x = - -2", Compare("=", ("x",), 2)),
        ("x = 2.5", Compare("=", ("x",), 2.5)),
        ("x = 1e3", Compare("=", ("x",), 1000.0)),
        ("x = TRUE", Compare("=", ("x",), True)),
        ("x = false", Compare("=", ("x",), False)),
        ("x = 'it''s'", Compare("=", ("x",), "it's")),
        ("x = ''", Compare("=", ("x",), "")),
        ("x = -9223372036854775808", Compare("=", ("x",), -(2**63))),
        ("(a) = (1)", Compare("=", ("a",), 1)),
        # paths of any depth; double quotes make one segment
        ("metadata.model = 'x'", Compare("=", ("metadata", "model"), "x")),
        ("a.b.c = 1", Compare("=", ("a", "b", "c"), 1)),
        ("a.b.c.d = 1", Compare("=", ("a", "b", "c", "d"), 1)),
        ("a.b.c.d.e.f = 1", Compare("=", ("a", "b", "c", "d", "e", "f"), 1)),
        ('"order" = 1', Compare("=", ("order",), 1)),
        ('"a"."select" = 1', Compare("=", ("a", "select"), 1)),
        ("comment = 1", Compare("=", ("comment",), 1)),  # a statement keyword as a field
        ("Status = 1", Compare("=", ("Status",), 1)),  # case is kept
        ("id = 'T1'", Compare("=", ("id",), "T1")),
        ("_version >= 2", Compare(">=", ("_version",), 2)),
        # IN, IS NULL, LIKE and their negations
        ("a IN (1, 'x', TRUE, -2)", In(("a",), (1, "x", True, -2))),
        ("a IN (1)", In(("a",), (1,))),
        ("a NOT IN (1, 2)", Not(In(("a",), (1, 2)))),
        ("NOT a IN (1, 2)", Not(In(("a",), (1, 2)))),
        ("a IS NULL", IsNull(("a",))),
        ("a.b IS NOT NULL", Not(IsNull(("a", "b")))),
        ("NOT a IS NULL", Not(IsNull(("a",)))),
        ("a LIKE 'x%'", Like(("a",), "x%")),
        ("a NOT LIKE 'x%'", Not(Like(("a",), "x%"))),
        ("NOT a LIKE 'x%'", Not(Like(("a",), "x%"))),
        # logic: chains are flattened, double negation removed
        (
            "a = 1 AND b = 2 AND c = 3",
            And((Compare("=", ("a",), 1), Compare("=", ("b",), 2), Compare("=", ("c",), 3))),
        ),
        (
            "a = 1 OR (b = 2 OR c = 3)",
            Or((Compare("=", ("a",), 1), Compare("=", ("b",), 2), Compare("=", ("c",), 3))),
        ),
        (
            "(a = 1 OR b = 2) AND c = 3",
            And((Or((Compare("=", ("a",), 1), Compare("=", ("b",), 2))), Compare("=", ("c",), 3))),
        ),
        (
            "a = 1 OR b = 2 AND c = 3",  # AND binds tighter
            Or((Compare("=", ("a",), 1), And((Compare("=", ("b",), 2), Compare("=", ("c",), 3))))),
        ),
        ("NOT (a = 1 AND b = 2)", Not(And((Compare("=", ("a",), 1), Compare("=", ("b",), 2))))),
        ("NOT NOT a = 1", Compare("=", ("a",), 1)),
        ("NOT (NOT (a = 1))", Compare("=", ("a",), 1)),
        ("a = 1;", Compare("=", ("a",), 1)),
        ("a = 1 -- a comment", Compare("=", ("a",), 1)),
    ],
)
def test_sql_parses_to_nodes(text, node):
    assert where_of(text) == node


@pytest.mark.parametrize(
    "text, node",
    [
        # a comparison with NULL is unknown for every record: folded away, exactly
        ("x = NULL", NOTHING),
        ("x != NULL", NOTHING),
        ("NOT x = NULL", NOTHING),
        ("x < NULL", NOTHING),
        ("x LIKE NULL", NOTHING),
        ("NULL = x", NOTHING),
        ("a = 1 AND x = NULL", NOTHING),
        ("a = 1 OR x = NULL", Compare("=", ("a",), 1)),
        # NOT (U AND a = 1) is true exactly when a = 1 is false
        ("NOT (x = NULL AND a = 1)", Not(Compare("=", ("a",), 1))),
        # NOT (U OR a = 1) is never true
        ("NOT (x = NULL OR a = 1)", NOTHING),
        ("a = 1 AND NOT (x = NULL OR b = 2)", NOTHING),
        ("a = 1 OR NOT (x = NULL OR b = 2)", Compare("=", ("a",), 1)),
    ],
)
def test_null_comparisons_are_folded(text, node):
    assert where_of(text) == node


@pytest.mark.parametrize(
    "text, doc",
    [
        ("x = NULL", {"id": "1", "x": None}),
        ("x = NULL", {"id": "1"}),
        ("NOT x = NULL", {"id": "1", "x": 1}),
        ("NOT x != NULL", {"id": "1"}),
        ("NOT (x = NULL AND a = 1)", {"id": "1", "a": 1}),
        ("NOT (x = NULL OR a = 1)", {"id": "1", "a": 2}),
    ],
)
def test_null_comparisons_never_match(text, doc):
    assert matches(text, doc) is False


@pytest.mark.parametrize(
    "where, node",
    [
        ({}, None),
        ({"status": "done"}, Compare("=", ("status",), "done")),
        ({"metadata.model": "x"}, Compare("=", ("metadata", "model"), "x")),
        ({"a": None}, IsNull(("a",))),
        ({"a": [1, "x"]}, In(("a",), (1, "x"))),
        ({"a": ()}, In(("a",), ())),
        ({"a": 1, "b": True}, And((Compare("=", ("a",), 1), Compare("=", ("b",), True)))),
    ],
)
def test_dict_where(where, node):
    assert where_of(where) == node


def test_dict_none_finds_nulls_but_sql_equals_null_does_not():
    doc = {"id": "1", "a": None}
    assert matches({"a": None}, doc) is True
    assert matches({"a": None}, {"id": "2"}) is True
    assert matches("a = NULL", doc) is False
    assert matches("a = :v", doc, {"v": None}) is False
    assert matches("a IS NULL", doc) is True


@pytest.mark.parametrize(
    "text, params, node",
    [
        ("a = :v", {"v": 3}, Compare("=", ("a",), 3)),
        ("a = :v", {"v": "x"}, Compare("=", ("a",), "x")),
        ("a = :v", {"v": False}, Compare("=", ("a",), False)),
        ("a = :v", {"v": 2.5, "unused": object()}, Compare("=", ("a",), 2.5)),
        ("a = :v", {"v": None}, NOTHING),
        (":v < a", {"v": 1}, Compare(">", ("a",), 1)),
        ("a = :v OR b = :v", {"v": 1}, Or((Compare("=", ("a",), 1), Compare("=", ("b",), 1)))),
        ("a IN :l", {"l": [1, "x"]}, In(("a",), (1, "x"))),
        ("a IN :l", {"l": (1, 2)}, In(("a",), (1, 2))),
        ("a IN :l", {"l": []}, In(("a",), ())),
        ("a NOT IN :l", {"l": [1]}, Not(In(("a",), (1,)))),
        ("a IN (:x, :y, 3)", {"x": 1, "y": "b"}, In(("a",), (1, "b", 3))),
        ("a LIKE :p", {"p": "x%"}, Like(("a",), "x%")),
        ("a LIKE :p", {"p": None}, NOTHING),
        ("a = :Name", {"Name": 1}, Compare("=", ("a",), 1)),
    ],
)
def test_params_are_bound(text, params, node):
    assert where_of(text, params) == node


def test_the_parse_cache_does_not_keep_params():
    assert where_of("a = :v", {"v": 1}) == Compare("=", ("a",), 1)
    assert where_of("a = :v", {"v": 2}) == Compare("=", ("a",), 2)


def test_queries_compare_by_content():
    assert compile_query("a = 1", order_by="-b", limit=3) == compile_query(
        {"a": 1}, order_by=["-b"], limit=3
    )
    assert compile_query("a = 1") != compile_query("a = 2")


# -- rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("UPPER(a) = 'X'", "function call UPPER(...)"),
        ("a = lower('X')", "function call LOWER(...)"),
        ("FOO(a) = 1", "function call FOO(...)"),
        ("CAST(a AS INT) = 1", "function call CAST(...)"),
        ("a = (SELECT 1)", "subqueries are not supported"),
        ("a IN (SELECT b FROM t)", "subqueries are not supported"),
        ("EXISTS (SELECT 1)", "subqueries are not supported"),
        ("SELECT * FROM t WHERE a = 1", "SELECT statements are not supported"),
        ("a = 1; b = 2", "multiple statements are not supported"),
        ("a = b", "comparing two fields (a = b) is not supported"),
        ("a.x < b.y", "comparing two fields"),
        ("1 = 1", "comparing two values (1 = 1)"),
        (":p = 1", "comparing two values"),
        ("a + 1 = 2", "arithmetic (+) is not supported"),
        ("a = 2 - 1", "arithmetic (-) is not supported"),
        ("a * 2 > 1", "arithmetic (*)"),
        ("a / 2 > 1", "arithmetic (/)"),
        ("a % 2 = 1", "arithmetic (%)"),
        ("-a = 1", "arithmetic (unary -)"),
        ("a = -'x'", "arithmetic (unary -)"),
        ("a = -:p", "arithmetic (unary -)"),
        ("a = 'x' || 'y'", "string concatenation (||)"),
        ("a", "a bare field (a) is not a condition"),
        ("a.b AND c = 1", "a bare field (a.b) is not a condition"),
        ("NOT a", "a bare field (a)"),
        ("1", "a literal (1) is not a condition"),
        ("TRUE", "a literal (TRUE) is not a condition"),
        ("a = 1 OR 'x'", "a literal ('x') is not a condition"),
        (":p", "a literal"),
        ("a BETWEEN 1 AND 2", "BETWEEN is not supported"),
        ("a NOT BETWEEN 1 AND 2", "BETWEEN is not supported"),
        ("a ILIKE 'x'", "ILIKE is not supported"),
        ("a LIKE 'x' ESCAPE '!'", "ESCAPE is not supported"),
        ("a SIMILAR TO 'x'", "SIMILAR TO is not supported"),
        ("a REGEXP 'x'", "regular expressions"),
        ("a IS DISTINCT FROM 1", "IS DISTINCT FROM is not supported"),
        ("a IS NOT DISTINCT FROM 1", "IS NOT DISTINCT FROM"),
        ("a IS TRUE", "IS TRUE is not supported"),
        ("a IS NOT FALSE", "IS FALSE is not supported"),
        ("1 IS NULL", "IS NULL needs a field"),
        ("'x' LIKE a", "LIKE needs a field"),
        ("a LIKE 5", "LIKE needs a string pattern"),
        ("1 IN (1, 2)", "IN needs a field"),
        ("a IN (1, NULL)", "NULL is not allowed in IN"),
        ("a IN (b, 1)", "a field (b) is not allowed here"),
        ("a IN b", "IN takes a list of values in parentheses or a :parameter"),
        ("a = [1, 2]", "array literals are not supported"),
        ("CASE WHEN a = 1 THEN 1 END = 1", "CASE expressions are not supported"),
        ("a = ?", "positional placeholders (?) are not supported"),
        ("a = @p", "@name parameters are not supported"),
        ("a = $p", "$name parameters are not supported"),
        ('"weird field" = 1', "segment 'weird field' is not supported"),
        ('"a.b" = 1', "segment 'a.b' is not supported"),
        ("a.* = 1", "a.* is not a field"),
        ("x = 9223372036854775808", "does not fit in 64 bits"),
        ("x = 1e999", "inf is not a JSON number"),
        # syntax errors carry sqlglot's message
        ("a = ", "syntax error in where"),
        ("(a = 1", "syntax error in where: Expecting )"),
        ("a = 1 b", "syntax error in where: Invalid expression / Unexpected token"),
        ("a = 1 ORDER BY a", "syntax error in where"),
        ("a = 'unterminated", "syntax error in where"),
        ("", "syntax error in where"),
        ("(" * 60 + "a = 1" + ")" * 60, "nested too deeply"),
    ],
)
def test_unsupported_sql_is_named(text, message):
    with pytest.raises(QueryError) as raised:
        compile_query(text, {"p": 1})
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "where, params, message",
    [
        ("a = :v", {}, "missing parameter :v"),
        ("a = :v", None, "missing parameter :v"),
        ("a IN :l", {}, "missing parameter :l"),
        ("a = 1 OR b = :other", {"v": 1}, "missing parameter :other"),
        ("a = :v", {"v": [1, 2]}, "parameter :v: a list is allowed only as IN :name"),
        ("a IN (:v)", {"v": [1, 2]}, "a list is allowed only as IN :name"),
        ("a = :v", {"v": {"k": 1}}, "parameter :v: dict"),
        ("a = :v", {"v": object()}, "is not a JSON scalar"),
        ("a = :v", {"v": datetime.date(2024, 1, 1)}, "parameter :v: date"),
        ("a = :v", {"v": {1, 2}}, "parameter :v: set"),
        ("a = :v", {"v": math.nan}, "nan is not a JSON number"),
        ("a = :v", {"v": math.inf}, "inf is not a JSON number"),
        ("a = :v", {"v": 2**70}, "does not fit in 64 bits"),
        ("a IN :l", {"l": 1}, "parameter :l must be a list for IN, not int"),
        ("a IN :l", {"l": "ab"}, "must be a list for IN, not str"),
        ("a IN :l", {"l": [1, None]}, "parameter :l: NULL is not allowed in IN"),
        ("a IN :l", {"l": [[1]]}, "parameter :l: a list is allowed only"),
        ("a IN :l", {"l": [{"k": 1}]}, "parameter :l: dict"),
        ("a = 1", [1], "params must be a dict, not list"),
        ({"a": {"k": 1}}, None, "where['a']: dict"),
        ({"a": [1, None]}, None, "NULL is not allowed in IN"),
        ({"a": [[1]]}, None, "a list is allowed only"),
        ({"a": math.nan}, None, "nan is not a JSON number"),
        ({"a b": 1}, None, "segment 'a b' is not supported"),
        ({"a..b": 1}, None, "segment '' is not supported"),
        ({1: 1}, None, "a where key must be a field name (str)"),
        (42, None, "where must be a dict, a SQL string or None, not int"),
        ([("a", 1)], None, "where must be a dict, a SQL string or None, not list"),
    ],
)
def test_invalid_params_and_values(where, params, message):
    with pytest.raises(QueryError) as raised:
        compile_query(where, params)
    assert message in str(raised.value)


def test_no_other_exception_escapes_from_malformed_sql():
    tokens = (
        "a b.c x.y.z \"q\" = != <> < >= AND OR NOT ( ) IN IS NULL LIKE 's%' 1 - 2.5 TRUE :p :l "
        ":n , + * BETWEEN SELECT ; UPPER(a) ? @p $x [ ] { } || :: CAST ESCAPE EXISTS CASE WHEN "
        "END ANY FROM . 0x1 1e999 ' \" -- % ~ ^ & | -> # INTERVAL ORDER LIMIT ILIKE ARRAY N'x'"
    ).split(" ")
    rng = random.Random(7)
    outcomes = set()
    for _ in range(3000):
        text = " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 7)))
        try:
            query = compile_query(text, {"p": 1, "l": [1, "a"], "n": None})
            query.apply([{"id": "1", "a": [1]}, {"id": "0", "a": {"x": 1}}])
            outcomes.add("ok")
        except QueryError:
            outcomes.add("error")
    assert outcomes == {"ok", "error"}


# -- evaluation ----------------------------------------------------------------------------

DOC = {
    "id": "T1",
    "_version": 3,
    "status": "done",
    "priority": 5,
    "score": 2.5,
    "flag": True,
    "off": False,
    "none": None,
    "title": "Write the parser",
    "tags": ["a", "b"],
    "metadata": {"model": "gpt", "run": {"step": 2, "tool": {"name": "grep"}}},
    "order": 1,
    "empty": "",
    "zero": 0,
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("status = 'done'", True),
        ("status = 'DONE'", False),
        ("status != 'todo'", True),
        ("status <> 'done'", False),
        ("priority > 4", True),
        ("priority >= 5", True),
        ("priority < 5", False),
        ("priority <= 5", True),
        ("4 < priority", True),
        ("6 <= priority", False),
        ("priority > -1", True),
        ("score = 2.5", True),
        ("score > 2", True),
        ("id = 'T1'", True),
        ("id > 'T0'", True),
        ("_version = 3", True),
        ('"order" = 1', True),
        # numbers: 1 = 1.0; booleans are not numbers
        ("priority = 5.0", True),
        ("zero = 0.0", True),
        ("flag = TRUE", True),
        ("flag = 1", False),
        ("flag != 1", True),
        ("flag > 0", False),
        ("NOT flag > 0", False),  # unknown both ways
        ("zero = FALSE", False),
        ("off = FALSE", True),
        ("off < TRUE", True),
        ("flag > FALSE", True),
        # strings by code point
        ("status < 'e'", True),
        ("status > 'Z'", True),  # 'd' (0x64) > 'Z' (0x5a)
        ("title < 'Wz'", True),
        ("empty = ''", True),
        ("empty < 'a'", True),
        # across kinds: = false, != true, ordering unknown
        ("status = 5", False),
        ("status != 5", True),
        ("status > 5", False),
        ("NOT status > 5", False),
        ("priority = '5'", False),
        ("priority != '5'", True),
        ("priority < 'z'", False),
        ("NOT priority < 'z'", False),
        ("tags = 'a'", False),
        ("tags != 'a'", True),
        ("tags > 1", False),
        ("NOT tags > 1", False),
        ("metadata = 1", False),
        ("metadata != 1", True),
        ("metadata < 1", False),
        # nested paths, depth 1 to 3
        ("metadata.model = 'gpt'", True),
        ("metadata.run.step = 2", True),
        ("metadata.run.step > 2", False),
        ("metadata.run.tool.name LIKE 'g%'", True),
        ("metadata.missing IS NULL", True),
        ("metadata.run.step.deeper IS NULL", True),  # a path through a number
        ("status.x IS NULL", True),  # through a string
        ("tags.a IS NULL", True),  # through an array
        ("metadata.run IS NOT NULL", True),
        # NULL: missing fields and JSON null
        ("missing IS NULL", True),
        ("none IS NULL", True),
        ("none IS NOT NULL", False),
        ("zero IS NULL", False),
        ("empty IS NULL", False),
        ("off IS NULL", False),
        ("missing = 1", False),
        ("missing != 1", False),
        ("NOT missing = 1", False),
        ("NOT missing != 1", False),
        ("none != 'x'", False),
        ("missing < 1", False),
        ("NOT missing < 1", False),
        # Kleene logic
        ("missing = 1 OR status = 'done'", True),
        ("missing = 1 OR status = 'todo'", False),
        ("NOT (missing = 1 OR status = 'todo')", False),  # NOT (U OR F) = U
        ("NOT (missing = 1 OR status = 'done')", False),  # NOT (U OR T) = F
        ("missing = 1 AND status = 'done'", False),
        ("NOT (missing = 1 AND status = 'done')", False),  # NOT (U AND T) = U
        ("NOT (missing = 1 AND status = 'todo')", True),  # NOT (U AND F) = T
        ("NOT (missing = 1 AND missing = 2)", False),
        ("missing IS NULL OR missing = 1", True),
        ("NOT (missing IS NULL AND missing = 1)", False),
        ("NOT NOT missing = 1", False),
        ("NOT NOT status = 'done'", True),
        ("(priority = 1 OR priority = 5) AND NOT status = 'todo'", True),
        # IN / NOT IN
        ("status IN ('todo', 'done')", True),
        ("status IN ('todo')", False),
        ("status NOT IN ('todo')", True),
        ("status NOT IN ('todo', 'done')", False),
        ("priority IN (1, 5.0)", True),
        ("priority IN ('5')", False),
        ("flag IN (1)", False),
        ("flag NOT IN (1)", True),
        ("zero IN (FALSE)", False),
        ("flag IN (TRUE, 'x')", True),
        ("tags IN ('a', 'b')", False),  # an array is never an IN item
        ("tags NOT IN ('a', 'b')", True),
        ("metadata IN (1)", False),
        ("metadata NOT IN (1)", True),
        ("missing IN (1)", False),
        ("missing NOT IN (1)", False),
        ("none NOT IN (1, 2)", False),
        # LIKE
        ("title LIKE 'Write%'", True),
        ("title LIKE 'write%'", False),  # case-sensitive
        ("title LIKE '%parser'", True),
        ("title LIKE '%the%'", True),
        ("title LIKE 'Write'", False),  # anchored
        ("status LIKE 'd_ne'", True),
        ("status LIKE 'd_e'", False),
        ("status LIKE '____'", True),
        ("status LIKE '%'", True),
        ("empty LIKE '%'", True),
        ("empty LIKE '_'", False),
        ("status NOT LIKE 'x%'", True),
        ("status NOT LIKE 'd%'", False),
        ("priority LIKE '5'", False),  # not a string: unknown
        ("NOT priority LIKE '5'", False),
        ("tags LIKE '%'", False),
        ("NOT tags LIKE '%'", False),
        ("missing LIKE '%'", False),
        ("missing NOT LIKE 'x'", False),
    ],
)
def test_evaluation(text, expected):
    assert matches(text, DOC) is expected


@pytest.mark.parametrize(
    "pattern, value, expected",
    [
        ("a.c", "a.c", True),
        ("a.c", "abc", False),  # regex characters are literal
        ("(x)+", "(x)+", True),
        ("[ab]", "a", False),
        ("a\\%", "a\\bc", True),  # backslash is literal, % still a wildcard
        ("^a$", "^a$", True),
        ("a%b", "a\nb", True),  # % spans newlines
        ("a_b", "a\nb", True),
        ("%", "", True),
        ("_%_", "é", False),
        ("_", "é", True),  # one code point
        ("%é%", "café!", True),
    ],
)
def test_like_patterns(pattern, value, expected):
    assert matches("v LIKE :p", {"id": "1", "v": value}, {"p": pattern}) is expected


@pytest.mark.parametrize(
    "text, params, doc, expected",
    [
        ("a IN :l", {"l": [1, 2]}, {"a": 2}, True),
        ("a IN :l", {"l": [1, 2]}, {"a": 3}, False),
        ("a IN :l", {"l": []}, {"a": 3}, False),
        ("a NOT IN :l", {"l": []}, {"a": 3}, True),
        ("a NOT IN :l", {"l": []}, {}, False),  # NULL field: unknown, even for an empty list
        ("a IN :l", {"l": [True]}, {"a": 1}, False),
        ("a IN :l", {"l": [1]}, {"a": True}, False),
        ("a IN :l", {"l": [1]}, {"a": 1.0}, True),
        ("a IN :l", {"l": [1.0]}, {"a": 1}, True),
        ("a = :v", {"v": True}, {"a": 1}, False),
        ("a = :v", {"v": 1}, {"a": True}, False),
        ("a = :v", {"v": 1}, {"a": 1.0}, True),
        ("a != :v", {"v": 0}, {"a": False}, True),
        ("a < :v", {"v": 10}, {"a": -1}, True),
        ("a = :v", {"v": "x"}, {"a": ["x"]}, False),
        ("a != :v", {"v": "x"}, {"a": ["x"]}, True),
        ("a = :v", {"v": 1}, {"a": {"v": 1}}, False),
    ],
)
def test_evaluation_with_params(text, params, doc, expected):
    assert matches(text, {"id": "1", **doc}, params) is expected


def test_dict_where_evaluation():
    assert matches({"status": "done", "metadata.model": "gpt"}, DOC) is True
    assert matches({"status": "done", "priority": 4}, DOC) is False
    assert matches({"priority": [1, 5]}, DOC) is True
    assert matches({"flag": 1}, DOC) is False
    assert matches({"none": None, "missing": None}, DOC) is True
    assert matches({"status": None}, DOC) is False


def test_no_where_matches_everything():
    query = compile_query()
    assert query.where is None
    assert query.matches({}) is True
    assert query.matches(DOC) is True


def test_matches_returns_bools():
    for text in ("missing = 1", "status = 'done'", "status = 1", "tags > 1", "NOT missing = 1"):
        assert type(matches(text, DOC)) is bool


# -- a reference evaluator over random queries ---------------------------------------------
# Builds random expressions, renders them as SQL (values inline or as parameters) and checks
# matches() -- and matches() of the negation -- against a direct transcription of the rules.

KIND_ORDER = (type(None), bool, (int, float), str, list, dict)


def ref_kind(value):
    return next(i for i, t in enumerate(KIND_ORDER) if isinstance(value, t))


def ref_compare(op, x, v):
    if x is None or v is None:
        return None
    if ref_kind(x) != ref_kind(v):
        return {"=": False, "!=": True}.get(op)
    return {"=": x == v, "!=": x != v, "<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v}[op]


def ref_like(x, pattern):
    if not isinstance(x, str) or pattern is None:
        return None

    def match(i, j):  # a plain backtracking matcher, independent of regular expressions
        if j == len(pattern):
            return i == len(x)
        if pattern[j] == "%":
            return any(match(k, j + 1) for k in range(i, len(x) + 1))
        return i < len(x) and pattern[j] in ("_", x[i]) and match(i + 1, j + 1)

    return match(0, 0)


def ref_eval(tree, doc):
    kind = tree[0]
    if kind == "not":
        value = ref_eval(tree[1], doc)
        return None if value is None else not value
    if kind in ("and", "or"):
        values = [ref_eval(item, doc) for item in tree[1:]]
        decisive = kind == "or"
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    x = lookup(doc, tree[1].split("."))
    if kind == "cmp":
        return ref_compare(tree[2], x, tree[3])
    if kind == "isnull":
        return x is None
    if kind == "in":
        if x is None:
            return None
        return any(ref_compare("=", x, v) for v in tree[2])
    return ref_like(x, tree[2])


FIELDS = ("a", "b", "m.x")
SCALARS = (True, False, 0, 1, 1.0, 2.5, -3, "a", "b", "", "ab")
DOC_VALUES = SCALARS + (None, [1], {"k": 1})
PATTERNS = ("a%", "%", "_", "a_", "%b%", "")


def random_tree(rng, depth):
    if depth == 0 or rng.random() < 0.3:
        field = rng.choice(FIELDS)
        kind = rng.choice(("cmp", "cmp", "isnull", "in", "like"))
        if kind == "cmp":
            value = None if rng.random() < 0.1 else rng.choice(SCALARS)
            return ("cmp", field, rng.choice(("=", "!=", "<", "<=", ">", ">=")), value)
        if kind == "in":
            return ("in", field, tuple(rng.sample(SCALARS, rng.randint(0, 3))))
        if kind == "like":
            return ("like", field, None if rng.random() < 0.1 else rng.choice(PATTERNS))
        return ("isnull", field)
    kind = rng.choice(("not", "and", "or"))
    if kind == "not":
        return ("not", random_tree(rng, depth - 1))
    return (kind,) + tuple(random_tree(rng, depth - 1) for _ in range(rng.randint(2, 3)))


def render(tree, params, rng):
    def value(v):
        if rng.random() < 0.5:
            name = f"p{len(params)}"
            params[name] = v
            return f":{name}"
        if v is None or isinstance(v, bool):
            return {None: "NULL", True: "TRUE", False: "FALSE"}[v]
        return "'" + v.replace("'", "''") + "'" if isinstance(v, str) else repr(v)

    kind = tree[0]
    if kind == "not":
        return f"NOT ({render(tree[1], params, rng)})"
    if kind in ("and", "or"):
        return f" {kind.upper()} ".join(f"({render(t, params, rng)})" for t in tree[1:])
    if kind == "cmp":
        return f"{tree[1]} {tree[2]} {value(tree[3])}"
    if kind == "isnull":
        return f"{tree[1]} IS NULL"
    if kind == "in":
        if not tree[2] or rng.random() < 0.5:
            name = f"p{len(params)}"
            params[name] = list(tree[2])
            return f"{tree[1]} IN :{name}"
        return f"{tree[1]} IN ({', '.join(value(v) for v in tree[2])})"
    return f"{tree[1]} LIKE {value(tree[2])}"


def random_doc(rng):
    doc = {"id": "1"}
    for field in ("a", "b"):
        if rng.random() < 0.85:
            doc[field] = rng.choice(DOC_VALUES)
    doc["m"] = rng.choice(({"x": rng.choice(DOC_VALUES)}, {}, 5, None))
    return doc


def test_matches_agrees_with_a_reference_evaluator():
    rng = random.Random(2024)
    docs = [random_doc(rng) for _ in range(40)]
    outcomes = set()
    for _ in range(400):
        tree, params = random_tree(rng, 3), {}
        text = render(tree, params, rng)
        query = compile_query(text, params)
        negated = compile_query(f"NOT ({text})", params)
        for doc in docs:
            expected = ref_eval(tree, doc)
            outcomes.add(expected)
            assert query.matches(doc) is (expected is True), (text, params, doc)
            assert negated.matches(doc) is (expected is False), (text, params, doc)
    assert outcomes == {True, False, None}


# -- ordering, slicing and options ---------------------------------------------------------

# One record per rank of the total order, given in ascending order.
RANKED = [
    {"id": "r00"},  # missing
    {"id": "r01", "v": None},
    {"id": "r02", "v": False},
    {"id": "r03", "v": True},
    {"id": "r04", "v": -10},
    {"id": "r05", "v": 0.5},
    {"id": "r06", "v": 2},
    {"id": "r07", "v": 1e9},
    {"id": "r08", "v": ""},
    {"id": "r09", "v": "B"},
    {"id": "r10", "v": "a"},
    {"id": "r11", "v": "é"},
    {"id": "r12", "v": [3]},
    {"id": "r13", "v": []},  # arrays rank equal among themselves: id decides
    {"id": "r14", "v": {"z": 1}},
    {"id": "r15", "v": {}},
]


def ids(docs):
    return [doc["id"] for doc in docs]


def shuffled(docs, seed=0):
    docs = list(docs)
    random.Random(seed).shuffle(docs)
    return docs


def test_order_across_kinds():
    assert ids(compile_query(order_by="v").apply(shuffled(RANKED))) == ids(RANKED)


def test_descending_reverses_the_order_nulls_last():
    result = ids(compile_query(order_by="-v").apply(shuffled(RANKED)))
    # reversed, except that equal keys (the two NULLs, the arrays, the objects) stay by id
    assert result == [
        "r14",
        "r15",
        "r12",
        "r13",
        "r11",
        "r10",
        "r09",
        "r08",
        "r07",
        "r06",
        "r05",
        "r04",
        "r03",
        "r02",
        "r00",
        "r01",
    ]


def test_without_order_by_records_come_in_id_order():
    assert ids(compile_query().apply(shuffled(RANKED, 3))) == ids(RANKED)
    assert ids(compile_query("v IS NULL").apply(shuffled(RANKED, 4))) == ["r00", "r01"]


TIES = [
    {"id": "d", "p": 1, "s": "x"},
    {"id": "a", "p": 2, "s": "y"},
    {"id": "c", "p": 1, "s": "y"},
    {"id": "b", "p": 2, "s": "x"},
    {"id": "e", "p": 1.0, "s": "x"},
]


@pytest.mark.parametrize(
    "order_by, expected",
    [
        ("p", ["c", "d", "e", "a", "b"]),  # ties by id ascending, 1 and 1.0 tie
        ("-p", ["a", "b", "c", "d", "e"]),  # descending reverses p only, not the id tie-break
        (["p", "s"], ["d", "e", "c", "b", "a"]),
        (["p", "-s"], ["c", "d", "e", "a", "b"]),
        (["-p", "-s"], ["a", "b", "c", "d", "e"]),
        (["s", "-p"], ["b", "d", "e", "a", "c"]),
        (["-s", "p", "-id"], ["c", "a", "e", "d", "b"]),
        ("id", ["a", "b", "c", "d", "e"]),
        ("-id", ["e", "d", "c", "b", "a"]),
        ([], ["a", "b", "c", "d", "e"]),
    ],
)
def test_order_by_with_ties(order_by, expected):
    assert ids(compile_query(order_by=order_by).apply(shuffled(TIES))) == expected


def test_order_by_nested_path():
    docs = [
        {"id": "1", "m": {"r": {"n": 3}}},
        {"id": "2", "m": {"r": {"n": 1}}},
        {"id": "3", "m": 7},
        {"id": "4", "m": {"r": {"n": 2}}},
    ]
    assert ids(compile_query(order_by="m.r.n").apply(docs)) == ["3", "2", "4", "1"]
    assert ids(compile_query(order_by="-m.r.n").apply(docs)) == ["1", "4", "2", "3"]


@pytest.mark.parametrize(
    "limit, offset, expected",
    [
        (None, 0, ["a", "b", "c", "d", "e"]),
        (2, 0, ["a", "b"]),
        (2, 1, ["b", "c"]),
        (None, 3, ["d", "e"]),
        (0, 0, []),
        (10, 4, ["e"]),
        (1, 5, []),
        (3, 99, []),
    ],
)
def test_limit_and_offset(limit, offset, expected):
    query = compile_query(limit=limit, offset=offset)
    assert ids(query.apply(shuffled(TIES))) == expected


def test_apply_filters_orders_slices_and_returns_the_same_objects():
    query = compile_query("p = :p", {"p": 1}, order_by="-id", limit=2, offset=1)
    result = query.apply(iter(TIES))  # any iterable
    assert ids(result) == ["d", "c"]
    assert all(any(doc is original for original in TIES) for doc in result)


def test_apply_does_not_mutate_its_input():
    docs = shuffled(TIES)
    before = [dict(doc) for doc in docs]
    compile_query("p > 0", order_by="s").apply(docs)
    assert [dict(doc) for doc in docs] == before


def test_unsliced():
    query = compile_query("p = 1", order_by="-s", limit=2, offset=1)
    whole = query.unsliced()
    assert (whole.where, whole.order, whole.limit, whole.offset) == (
        query.where,
        query.order,
        None,
        0,
    )
    assert ids(whole.apply(TIES)) == ["c", "d", "e"]
    assert whole.unsliced() is whole


def test_order_is_parsed():
    assert compile_query(order_by="a").order == ((("a",), False),)
    assert compile_query(order_by=["-a.b", "c"]).order == ((("a", "b"), True), (("c",), False))
    assert compile_query(order_by=("x",)).order == ((("x",), False),)
    assert compile_query(order_by=None).order == ()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"order_by": "a b"}, "segment 'a b' is not supported"),
        ({"order_by": "a DESC"}, "segment 'a DESC'"),
        ({"order_by": "-"}, "segment ''"),
        ({"order_by": "--a"}, "segment '-a'"),
        ({"order_by": "a."}, "segment ''"),
        ({"order_by": "1a"}, "segment '1a'"),
        ({"order_by": ""}, "segment ''"),
        ({"order_by": ["a", 3]}, "order_by entry must be a field name (str), not 3"),
        ({"order_by": 3}, "order_by must be a field name or a list of them"),
        ({"order_by": {"a": 1}}, "order_by must be a field name or a list of them"),
        ({"limit": -1}, "limit must be None or an integer >= 0, not -1"),
        ({"limit": 1.5}, "limit must be None or an integer >= 0"),
        ({"limit": True}, "limit must be None or an integer >= 0, not True"),
        ({"limit": "3"}, "limit must be None or an integer >= 0"),
        ({"offset": -1}, "offset must be an integer >= 0, not -1"),
        ({"offset": None}, "offset must be an integer >= 0, not None"),
        ({"offset": False}, "offset must be an integer >= 0, not False"),
        ({"offset": 2.0}, "offset must be an integer >= 0"),
    ],
)
def test_invalid_options(options, message):
    with pytest.raises(QueryError) as raised:
        compile_query(**options)
    assert message in str(raised.value)


def test_query_is_frozen():
    query = compile_query("a = 1")
    with pytest.raises(AttributeError):
        query.limit = 3
    assert isinstance(query, Query)


@pytest.mark.parametrize(
    "path, expected",
    [
        (("status",), "done"),
        (("metadata", "run", "step"), 2),
        (("metadata", "run", "tool", "name"), "grep"),
        (("missing",), None),
        (("none",), None),
        (("status", "x"), None),
        (("tags", "a"), None),
        (("metadata", "missing", "x"), None),
        (("zero",), 0),
        (("off",), False),
    ],
)
def test_lookup(path, expected):
    assert lookup(DOC, path) is expected or lookup(DOC, path) == expected
    assert type(lookup(DOC, path)) is type(expected)


# -- linear cost: LIKE without backtracking, huge ORs as flat nodes ---------------------------
def _like_reference(pattern: str, text: str) -> bool:
    """LIKE by dynamic programming over (pattern, text) positions: the definition."""
    reach = {0}
    for c in pattern:
        if c == "%":
            reach = set(range(min(reach), len(text) + 1)) if reach else set()
        else:
            reach = {i + 1 for i in reach if i < len(text) and (c == "_" or text[i] == c)}
    return len(text) in reach


def test_like_agrees_with_its_definition_on_random_patterns():
    """like_matcher answers exactly as the DP definition of LIKE on 20,000 random cases over a
    small alphabet (where '%' and '_' pieces overlap the most)."""
    from conductor_store.query import like_matcher

    rng = random.Random(11)
    for _ in range(20_000):
        pattern = "".join(rng.choice("ab%_\n") for _ in range(rng.randint(0, 7)))
        text = "".join(rng.choice("ab\n") for _ in range(rng.randint(0, 9)))
        assert like_matcher(pattern)(text) is _like_reference(pattern, text), (pattern, text)


def test_like_with_many_wildcards_answers():
    """A pattern that makes a backtracking regex explode ('%a%a...%ab' against 50 a's) gets
    its answer (False) from the linear matcher; a matching text still matches."""
    query = compile_query("s LIKE :p", {"p": "%a" * 25 + "%ab"})
    assert query.matches({"s": "a" * 50}) is False
    assert query.matches({"s": "a" * 50 + "b"}) is True


def test_three_thousand_ors_on_one_field_become_one_in():
    """A chain of 3,000 equalities ORed on one field compiles to a single In node (one set
    lookup per record) with the same answers."""
    where = " OR ".join(f"v = {i}" for i in range(3000))
    node = compile_query(where).where
    assert node == In(("v",), tuple(range(3000)))
    query = compile_query(where)
    assert [query.matches({"v": v}) for v in (0, 2999, 3000, None, "0")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_three_thousand_ors_of_different_fields_are_one_flat_node():
    """3,000 ORs over different fields (and parenthesised sub-chains) are one flat Or node, and
    evaluating it needs no recursion per item."""
    where = " OR ".join(f"(f{i} = 1 OR (g{i} > 2))" for i in range(3000))
    node = compile_query(where).where
    assert isinstance(node, Or) and len(node.items) == 6000
    assert not any(isinstance(item, Or) for item in node.items)
    query = compile_query(where)
    assert query.matches({"g2999": 3}) is True
    assert query.matches({"g2999": 2}) is False


@pytest.mark.parametrize(
    "text, node",
    [
        ("a = 1 OR a = TRUE", In(("a",), (1, True))),  # true and 1 stay apart
        ("a = 1 OR a IN (2, 1) OR b = 1", Or((In(("a",), (1, 2)), Compare("=", ("b",), 1)))),
        ("a = 1 OR b = 2 OR a = 3", Or((In(("a",), (1, 3)), Compare("=", ("b",), 2)))),
        ("a = 1 OR a > 3", Or((Compare("=", ("a",), 1), Compare(">", ("a",), 3)))),
        ("a = 1 AND a = 2", And((Compare("=", ("a",), 1), Compare("=", ("a",), 2)))),
        ("(a = 1 AND b = 1) AND c = 1", And(tuple(Compare("=", (f,), 1) for f in "abc"))),
    ],
)
def test_or_of_equalities_on_one_field_merges(text, node):
    """Equalities and INs ORed on one field merge into one In at the first one's place; other
    nodes and ANDs keep their shape (ANDs and ORs are always flat)."""
    assert where_of(text) == node


@pytest.mark.parametrize("value", ["a\x00b", "\udc80", "ok\ud800"], ids=repr)
def test_query_values_with_nul_or_lone_surrogates_are_refused(value):
    """A string parameter holding NUL or a lone surrogate is a QueryError (no backend can
    compare it the same way)."""
    with pytest.raises(QueryError, match="NUL|surrogate"):
        compile_query("a = :v", {"v": value})
    with pytest.raises(QueryError, match="NUL|surrogate"):
        compile_query({"a": [value]})


@pytest.mark.parametrize("big", [2**63, 2**64, 10**30])
def test_limit_and_offset_beyond_64_bits_are_clamped(big):
    """A limit above 2**63-1 means all records; an offset above it is 2**63-1 (past every
    record): what every backend then receives."""
    assert compile_query(limit=big).limit is None
    query = compile_query(limit=big, offset=big)
    assert (query.limit, query.offset) == (None, 2**63 - 1)
    assert query.apply([{"id": "a"}]) == []
