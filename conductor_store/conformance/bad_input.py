"""The bad-input corpus: hundreds of wrong arguments, each refused the documented way.

Every case is one call with one bad argument -- an id, a table name, a document, a ``where`` or
``order_by``, a parameter, an option, a project, a URL, a limit -- built from the compact
tables below. Each must raise its documented error type (a :class:`~conductor_store.StoreError`
subclass), write nothing (every table and the change log read the same before and after), and
never show a password in its message. A test runs a whole group on one store and reports every
case that misbehaved, so the corpus stays fast (a few hundred cheap calls per backend).
"""

from __future__ import annotations

import datetime
import decimal
import os
from typing import Any, Callable

import conductor_store
from conductor_store import ConflictError, NotFoundError, QueryError, StoreError, ValidationError

#: a password that appears in the corpus' URLs and must never appear in a message
CORPUS_PASSWORD = "Corpus-Pw_93xqZ"

Call = Callable[[Any], Any]  # takes the store (or the opener, for the open() cases)
Case = tuple[str, Call, "type[StoreError]"]

BAD_IDS: list[Any] = [
    "", ".", "..", "x" * 129, "a b", "a/b", "a\\b", "é", "a\x00b", "a*", "a\udc80", "a\n",
    "../etc", "a?b", "a#b", " ", "\t", "a%b", "a@b", "a,b", "ü", 5, None, b"id", 1.5, ["a"],
]  # fmt: skip
BAD_TABLES: list[Any] = [
    "Tasks", "1abc", "a-b", "a b", "", "t" * 65, "tâble", "a.b", "a\x00", "a/b", "..",
    "t\udc80", "_CS_Log", "a:b", 123, None, b"t", ["t"],
]  # fmt: skip
NON_JSON: list[Any] = [
    {1, 2}, b"bytes", datetime.datetime(2024, 1, 2), (1, 2), decimal.Decimal("1.5"), object(),
    1 + 2j, float("nan"), float("inf"), float("-inf"), 2**63, -(2**63) - 1, 10**30,
    "nul\x00", "\udc80", bytearray(b"x"), range(3), frozenset(),
]  # fmt: skip
BAD_DOCS: list[Any] = [
    [("v", 1)], "text", None, 5, 1.5, True, b"{}", {1: "x"}, {None: 1}, {"ok": {2.5: "x"}},
    {"l": [{(1, 2): 0}]}, {"k\x00": 1}, {"\udc80": 1}, {"id": "a b"},
    {"_version": 0}, {"_version": -1}, {"_version": "1"}, {"_version": True}, {"_version": 1.0},
    {"_version": [1]},
]  # fmt: skip


def _deep(levels: int) -> dict:
    doc: dict = {"leaf": 1}
    for _ in range(levels):
        doc = {"n": doc}
    return doc


BAD_WHERES: list[Any] = [
    "lower(name) = 'x'", "a = b", "1 = 1", "a", "a BETWEEN 1 AND 2", "SELECT * FROM t",
    "a = 1; DROP TABLE t", "a ILIKE 'x'", "a = $p", "a = ?", "a IN (SELECT 1)", "a + 1 = 2",
    "a = :missing", "a = 'unterminated", "((a = 1", "a = 1)", "a = 1e999", "a.* = 1",
    "a = ARRAY[1, 2]", "a IS 5", "a = 1 AND", "a LIKE 5", "a = 9223372036854775808",
    "a = -9223372036854775809", "a REGEXP 'x'", "a = 1 || 'x'", "CASE WHEN a THEN 1 END = 1",
    "a IN (1, NULL)", "a = @p", "EXISTS (SELECT 1)", "a = 'x' COLLATE y", "a.b-c = 1",
    "a = 'nul\x00'", "a IN :missing", "$a = 1", "a = 1 OR", "NOT", "a <=> 1", "a = {'k': 1}",
    5, 1.5, b"a = 1", ["a = 1"], {"a": {1, 2}}, {"a": {"k": 1}}, {"a b": 1}, {5: 1},
    {"a": float("nan")}, {"a": 2**64}, {"a": [1, None]}, {"a": "\udc80"}, {"": 1}, {"a..b": 1},
]  # fmt: skip
BAD_ORDERS: list[Any] = [
    "a b", "-", "", "a.", ".a", "a..b", "$a", "a;b", "a-b", "1a", "a\x00", "--a", 5, {"a": 1},
    ["a", 5], [None], b"a", ("a", ["b"]),
]  # fmt: skip
BAD_PARAMS: list[Any] = [
    [1], "x", 5, {"p": {1, 2}}, {"p": {"k": 1}}, {"p": b"x"}, {"p": object()},
    {"p": float("nan")}, {"p": 2**64}, {"p": [1, 2]}, {"p": "nul\x00"}, {"p": "\udc80"},
    {"p": datetime.date(2024, 1, 1)}, {"p": decimal.Decimal(1)},
]  # fmt: skip
BAD_COUNTS: list[Any] = [-1, 1.5, "1", True, [1], None, -(2**70), float("inf")]
BAD_PROJECTS: list[Any] = ["", "a/b", "..", "x" * 65, "-lead", "has space", None, 5, "a\x00"]
BAD_OPTIONS: list[dict] = [
    {"no_such_option": 1}, {"durablee": True}, {"Namespace": "x"}, {"password_": "x"},
    {"pool": 2}, {"retries": 3},
]  # fmt: skip
BAD_URLS: list[Any] = [
    b"json:///tmp/x", 5, ["mem://"], "", "nosuch://x", f"nosuch://root:{CORPUS_PASSWORD}@h:1/x",
    f"NOSUCH://u:{CORPUS_PASSWORD}@h", f"x-y+z://u:{CORPUS_PASSWORD}@[::1]:1",
]  # fmt: skip


def _each(
    label: str, values: list, call: Callable[[Any, Any], Any], error: type[StoreError]
) -> list[Case]:
    """One case per value: ``call(store, value)`` must raise ``error``."""

    def bind(value: Any) -> Call:
        return lambda store: call(store, value)

    return [(f"{label}[{value!r:.60}]", bind(value), error) for value in values]


def id_cases() -> list[Case]:
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "insert(id=)": lambda s, v: s.insert("tasks", {"v": 1}, id=v),
        "put": lambda s, v: s.put("tasks", v, {"v": 1}),
        "update": lambda s, v: s.update("tasks", v, {"v": 1}),
        "delete": lambda s, v: s.delete("tasks", v),
        "get": lambda s, v: s.get("tasks", v),
        "get_many": lambda s, v: s.get_many("tasks", ["sentinel", v]),
    }
    cases = [c for op, f in ops.items() for c in _each(op, BAD_IDS, f, ValidationError)]
    given = [i for i in BAD_IDS if i is not None]  # no id given: insert makes one
    return [c for c in cases if c[0] != "insert(id=)[None]"] + _each(
        "insert(doc id)", given, lambda s, v: s.insert("tasks", {"id": v}), ValidationError
    )


def table_cases() -> list[Case]:
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "insert": lambda s, t: s.insert(t, {"v": 1}, id="x"),
        "put": lambda s, t: s.put(t, "x", {"v": 1}),
        "update": lambda s, t: s.update(t, "x", {"v": 1}),
        "delete": lambda s, t: s.delete(t, "x"),
        "get": lambda s, t: s.get(t, "x"),
        "get_many": lambda s, t: s.get_many(t, ["x"]),
        "find": lambda s, t: s.find(t),
        "count": lambda s, t: s.count(t),
        "changes(tables=)": lambda s, t: s.changes(tables=[t]),
    }
    return [c for op, f in ops.items() for c in _each(op, BAD_TABLES, f, ValidationError)]


def document_cases() -> list[Case]:
    docs = [{"field_x": value} for value in NON_JSON] + BAD_DOCS + [_deep(70)]
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "insert": lambda s, d: s.insert("tasks", d, id="new"),
        "put": lambda s, d: s.put("tasks", "sentinel", d),
        "update": lambda s, d: s.update("tasks", "sentinel", d),
    }
    cases = [c for op, f in ops.items() for c in _each(op, docs, f, ValidationError)]
    sentinel, ghost, far = "sentinel", "ghost", {"_version": 10**9}
    return cases + [
        ("insert with _version", lambda s: s.insert("tasks", {"_version": 1}), ValidationError),
        ("insert taken id", lambda s: s.insert("tasks", {"v": 2}, id=sentinel), ConflictError),
        ("put stale _version", lambda s: s.put("tasks", sentinel, far), ConflictError),
        ("update stale _version", lambda s: s.update("tasks", sentinel, far), ConflictError),
        ("put _version of absent", lambda s: s.put("tasks", ghost, {"_version": 1}), ConflictError),
        ("update absent", lambda s: s.update("tasks", ghost, {"v": 1}), NotFoundError),
        ("get_many(str)", lambda s: s.get_many("tasks", sentinel), ValidationError),
        ("get_many(5)", lambda s: s.get_many("tasks", 5), ValidationError),
        ("changes(tables=str)", lambda s: s.changes(tables="tasks"), ValidationError),
    ]  # fmt: skip


def query_cases() -> list[Case]:
    return (
        _each("find(where)", BAD_WHERES, lambda s, w: s.find("tasks", w), QueryError)
        + _each("count(where)", BAD_WHERES, lambda s, w: s.count("tasks", w), QueryError)
        + _each("find(order_by)", BAD_ORDERS, lambda s, o: s.find("tasks", order_by=o), QueryError)
        + _each(
            "find(params)", BAD_PARAMS, lambda s, p: s.find("tasks", "v = :p", params=p), QueryError
        )
        + _each(
            "count(IN :p)",
            [p for p in BAD_PARAMS if p != {"p": [1, 2]}],  # a list is right for IN
            lambda s, p: s.count("tasks", "v IN :p", params=p),
            QueryError,
        )
        + _each("find(limit)", [c for c in BAD_COUNTS if c is not None],
                lambda s, n: s.find("tasks", limit=n), QueryError)
        + _each("find(offset)", BAD_COUNTS, lambda s, n: s.find("tasks", offset=n), QueryError)
        + _each("changes(since)", BAD_COUNTS, lambda s, n: s.changes(n), ValidationError)
        + _each("changes(limit)", [c for c in BAD_COUNTS if c is not None],
                lambda s, n: s.changes(limit=n), ValidationError)
    )  # fmt: skip


BAD_ENVIRONMENTS: list[dict] = [
    {"CONDUCTOR_STORE_URL": f"nosuch://root:{CORPUS_PASSWORD}@h:1"},
    {"CONDUCTOR_STORE_URL": "", "SURREAL_URL": f"bogus://u:{CORPUS_PASSWORD}@h"},
    {"CONDUCTOR_STORE_URL": "nosuch://x", "SURREAL_URL": "mem://"},
    {"CONDUCTOR_STORE_URL": None, "SURREAL_URL": "x+y://nowhere"},
]


def _open_with_environment(opener: Any, environment: dict) -> Any:
    """``conductor_store.open()`` (no URL) with ``environment`` set (None: unset), restored
    afterwards."""
    saved = {name: os.environ.get(name) for name in environment}
    try:
        _set_environment(environment)
        return conductor_store.open()
    finally:
        _set_environment(saved)


def _set_environment(environment: dict) -> None:
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def open_cases() -> list[Case]:
    """Cases whose call takes the test's opener: ``opener(project=..., **options)``."""
    return (
        _each("open(project)", BAD_PROJECTS, lambda o, p: o(project=p), ValidationError)
        + _each("open(options)", BAD_OPTIONS, lambda o, kw: o(**kw), ValidationError)
        + _each("open(url)", BAD_URLS, lambda o, url: conductor_store.open(url), ValidationError)
        + _each("open() with environment", BAD_ENVIRONMENTS, _open_with_environment,
                ValidationError)
    )  # fmt: skip


def every_case() -> list[Case]:
    return id_cases() + table_cases() + document_cases() + query_cases() + open_cases()


def dump(store) -> tuple:
    """Everything a refused call must leave as it was: each table's records, the change log."""
    return (
        {table: store.find(table) for table in store.tables()},
        store.changes(),
    )


class BadInputTests:
    def _secrets(self) -> list[str]:
        secrets = [CORPUS_PASSWORD]
        if getattr(self, "credentials", False):
            secrets.append(self.secret())  # type: ignore[attr-defined]
        return secrets

    def _run(self, store, cases: list[Case], target: Any = None) -> None:
        """Run ``cases`` (each ``call(target or store)``) and fail listing every case that
        raised another type (or nothing), wrote something or showed a password."""
        store.put("tasks", "sentinel", {"v": 1})
        secrets = self._secrets()
        before = dump(store)
        failures = []
        for label, call, expected in cases:
            problem = None
            try:
                call(store if target is None else target)
            except expected as error:
                message = str(error)
                if not isinstance(error, StoreError) or not message.strip():
                    problem = f"{type(error).__name__} with message {message!r}"
                elif any(secret in message for secret in secrets):
                    problem = "its message shows a password"
            except Exception as error:  # noqa: BLE001 - reported as the case's failure
                problem = f"raised {type(error).__name__}: {str(error)[:200]!r}"
            else:
                problem = "raised nothing"
            after = dump(store)
            if after != before:
                problem = (problem or "") + " and wrote something"
                before = after
            if problem:
                failures.append(f"{label}: {problem} (expected {expected.__name__})")
        assert not failures, (
            f"{len(failures)} of {len(cases)} bad inputs misbehaved:\n" + "\n".join(failures[:60])
        )

    def test_bad_input_corpus_is_large(self):
        """The corpus holds at least 300 cases (ids, tables, documents, where, order_by,
        params, limits, options, projects, URLs)."""
        assert len(every_case()) >= 300

    def test_bad_ids_refused(self, store):
        """Every operation taking an id refuses each bad id with ValidationError, writing
        nothing."""
        self._run(store, id_cases())

    def test_bad_tables_refused(self, store):
        """Every operation taking a table name refuses each bad one with ValidationError."""
        self._run(store, table_cases())

    def test_bad_documents_refused(self, store):
        """insert/put/update refuse each bad document with ValidationError (stale versions and
        taken ids with ConflictError, absent records with NotFoundError), writing nothing."""
        self._run(store, document_cases())

    def test_bad_queries_refused(self, store):
        """find/count refuse each bad where, order_by, params, limit and offset with
        QueryError, and changes() bad since/limit with ValidationError."""
        self._run(store, query_cases())

    def test_bad_open_arguments_refused(self, store, opener):
        """open() refuses bad projects, unknown options and bad URLs with ValidationError,
        never showing the URL's password."""
        self._run(store, open_cases(), target=opener)
