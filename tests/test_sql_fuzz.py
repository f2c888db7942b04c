"""Fuzz: hypothesis builds queries from the supported grammar (specs of the conformance model)
and random audit tables; every backend must agree with the model, row for row, and nothing may
raise (every generated query is valid, so not even QueryError). Bounded (``max_examples``,
``$CS_FUZZ_EXAMPLES``) so that the default run stays short."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import conductor_store as cs
from conductor_store.conformance import sql_model as model
from conductor_store.conformance.sql_corpus import identical

FIELDS = ["a", "b", "n", "m.x"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.5, 1.0, -2.25, 1e-3]),
    st.sampled_from(["x", "y", "X", "xy", ""]),
)  # fmt: skip
VALUES = st.one_of(SCALARS, st.lists(st.integers(0, 2), max_size=2))
# "a" and "b" are always there (NULL among their values); "n", "m" and "m.x" may be missing
DOC = st.fixed_dictionaries(
    {"a": VALUES, "b": SCALARS},
    optional={
        "n": st.one_of(st.integers(-5, 5), st.floats(-4, 4, width=16)),
        "m": st.one_of(st.fixed_dictionaries({}, optional={"x": SCALARS}), SCALARS),
    },
)  # fmt: skip
TABLE = st.lists(DOC, min_size=1, max_size=10)

field = st.sampled_from(FIELDS)
where_leaf = st.one_of(
    st.tuples(st.just("cmp"), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), field,
              SCALARS.filter(lambda v: v is not None)),
    st.tuples(st.just("isnull"), field),
    st.tuples(st.just("in"), field, st.lists(SCALARS.filter(lambda v: v is not None), min_size=1,
                                             max_size=3)),
    st.tuples(st.just("like"), field, st.sampled_from(["x%", "%y", "_", "%"])),
)  # fmt: skip
WHERE = st.recursive(
    where_leaf,
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=4,
)
row_expr = st.recursive(
    st.one_of(
        field.map(lambda p: ("f", p)),
        SCALARS.filter(lambda v: v is not None).map(lambda v: ("c", v)),
    ),
    lambda inner: st.one_of(
        st.tuples(st.just("op"), st.sampled_from(["+", "-", "*", "/"]), inner, inner),
        st.tuples(st.just("fn"), st.sampled_from(["LOWER", "UPPER", "LENGTH"]), inner),
        st.tuples(st.just("fn"), st.just("COALESCE"), inner, inner),
        st.tuples(st.just("cmp"), st.sampled_from(["=", "!=", "<", ">="]), inner, inner),
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=4,
)  # fmt: skip
AGG = st.one_of(
    st.just(("agg", "COUNT", None, False)),
    st.tuples(st.just("agg"), st.sampled_from(["COUNT", "SUM", "AVG", "MIN", "MAX"]),
              field.map(lambda p: ("f", p)), st.just(False)),
    st.tuples(st.just("agg"), st.just("COUNT"), field.map(lambda p: ("f", p)), st.just(True)),
)  # fmt: skip


@st.composite
def specs(draw):
    spec: dict = {"where": draw(st.none() | WHERE)}
    if draw(st.booleans()):  # grouped
        keys = draw(st.lists(field, unique=True, max_size=2))
        spec["group"] = keys or draw(st.sampled_from(["all", None]))
        aggs = draw(st.lists(AGG, min_size=0 if keys else 1, max_size=3, unique=True))
        cols = [(None, ("f", k)) for k in keys] + [(f"g{i}", e) for i, e in enumerate(aggs)]
        if not cols:
            cols = [("g0", ("agg", "COUNT", None, False))]
        spec["cols"] = cols
        if draw(st.booleans()):
            spec["having"] = (
                draw(st.sampled_from([">", "<=", "=", "!="])),
                draw(AGG),
                draw(st.one_of(st.integers(0, 3), st.sampled_from([0.5, "x", True]))),
            )
        orderable = [a or ("f", e[1]) for a, e in cols] + [draw(AGG)]
    else:
        exprs = draw(st.lists(row_expr, min_size=1, max_size=3))
        spec["cols"] = [(None, ("f", "id"))] + [(f"c{i}", e) for i, e in enumerate(exprs)]
        orderable = [("f", p) for p in FIELDS] + [f"c{i}" for i in range(len(exprs))]
        spec["distinct"] = draw(st.booleans())
        if spec["distinct"]:
            orderable = [f"c{i}" for i in range(len(exprs))]
    spec["order"] = draw(st.lists(st.tuples(st.sampled_from(orderable), st.booleans()), max_size=2))
    spec["limit"] = draw(st.none() | st.integers(0, 5))
    spec["offset"] = draw(st.integers(0, 3))
    return spec  # fmt: skip


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    opened = [cs.open(f"json://{tmp_path_factory.mktemp('fuzz')}"), cs.open("mem://")]
    yield opened
    for store in opened:
        store.close()


@settings(
    max_examples=int(os.environ.get("CS_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(table=TABLE, spec=specs())
def test_backends_agree_with_the_model(stores, table, spec):
    """Every generated query gives the model's rows on JSON files and on mem://."""
    sql = model.to_sql(spec, "fuzz")
    docs = None
    for store in stores:
        with store.transaction() as tx:
            for old in tx.find("fuzz"):
                tx.delete("fuzz", old["id"])
            for i, doc in enumerate(table):
                tx.put("fuzz", f"r{i}", doc)
        docs = store.find("fuzz")
        got = store.query(sql)  # the grammar is supported: not even QueryError is expected
        want = model.run(spec, docs)
        assert identical(got, want), f"{store.backend.name}: {sql}\n got: {got}\nwant: {want}"
