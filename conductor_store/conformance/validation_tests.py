"""Every rule on table names, ids, projects and documents: a ValidationError naming the rule and
the offending value, raised before anything is written."""

from __future__ import annotations

import datetime
import decimal

import pytest

from conductor_store import ConflictError, QueryError, StoreError, ValidationError

from ._support import last_seq, raises_naming, snapshot

BAD_TABLES = ["Tasks", "1abc", "a-b", "a b", "", "t" * 65, "tâble", "a.b", 123, None]
BAD_IDS = ["", ".", "..", "x" * 129, "a b", "a/b", "a\\b", "é", "a\x00b", "a*", 5, None]

NON_JSON = [
    ({1, 2}, "set"),
    (b"bytes", "bytes"),
    (datetime.datetime(2024, 1, 2, 3, 4, 5), "datetime"),
    ((1, 2), "tuple"),
    (decimal.Decimal("1.5"), "decimal"),
    (object(), "object"),
    (1 + 2j, "complex"),
]


def _named(value) -> tuple:
    """Ways a message may name ``value``: its repr or str (first 20 characters)."""
    if value == "":
        return ("''", '""', "empty")
    return (repr(value)[:20], str(value)[:20])


class ValidationTests:
    @pytest.fixture
    def sentinel(self, store):
        """One record, and the store's state, that a rejected write must leave untouched."""
        store.insert("tasks", {"v": 1}, id="sentinel")
        return snapshot(store)

    # -- table names -------------------------------------------------------------------------
    @pytest.mark.parametrize("table", BAD_TABLES, ids=repr)
    def test_bad_table_name_rejected(self, store, sentinel, table):
        """A table name breaking ``[a-z_][a-z0-9_]*`` (max 64) raises ValidationError naming the
        rule ("table") and the name; nothing is written."""
        with raises_naming(ValidationError, "table", _named(table)):
            store.insert(table, {"v": 1}, id="x")
        assert snapshot(store) == sentinel

    @pytest.mark.parametrize(
        "op", ["get", "get_many", "put", "update", "delete", "find", "count", "changes"]
    )
    def test_bad_table_name_rejected_by_every_operation(self, store, sentinel, op):
        """Every operation taking a table name checks it (reads too)."""
        bad = "Bad-Table"
        calls = {
            "get": lambda: store.get(bad, "x"),
            "get_many": lambda: store.get_many(bad, ["x"]),
            "put": lambda: store.put(bad, "x", {"v": 1}),
            "update": lambda: store.update(bad, "x", {"v": 1}),
            "delete": lambda: store.delete(bad, "x"),
            "find": lambda: store.find(bad),
            "count": lambda: store.count(bad),
            "changes": lambda: store.changes(tables=[bad]),
        }
        with raises_naming(ValidationError, bad):
            calls[op]()
        assert snapshot(store) == sentinel

    # -- ids ---------------------------------------------------------------------------------
    @pytest.mark.parametrize("bad_id", BAD_IDS, ids=repr)
    def test_bad_id_rejected(self, store, sentinel, bad_id):
        """An id that is not 1-128 of ``[A-Za-z0-9_.:-]`` (or is ``.``/``..``) raises
        ValidationError naming the rule ("id") and the id; nothing is written."""
        with raises_naming(ValidationError, "id", _named(bad_id)):
            store.put("tasks", bad_id, {"v": 1})
        assert snapshot(store) == sentinel

    @pytest.mark.parametrize("op", ["insert", "get", "get_many", "update", "delete"])
    def test_bad_id_rejected_by_every_operation(self, store, sentinel, op):
        """Every operation taking an id checks it (reads too)."""
        bad = "no/slashes"
        calls = {
            "insert": lambda: store.insert("tasks", {"v": 1}, id=bad),
            "get": lambda: store.get("tasks", bad),
            "get_many": lambda: store.get_many("tasks", ["sentinel", bad]),
            "update": lambda: store.update("tasks", bad, {"v": 1}),
            "delete": lambda: store.delete("tasks", bad),
        }
        with raises_naming(ValidationError, bad):
            calls[op]()
        assert snapshot(store) == sentinel

    def test_bad_id_in_document_rejected(self, store, sentinel):
        """An ``id`` field in an insert's document must itself be a valid id."""
        with raises_naming(ValidationError, "a b"):
            store.insert("tasks", {"id": "a b", "v": 1})
        assert snapshot(store) == sentinel

    def test_get_many_wants_a_list_of_ids(self, store, sentinel):
        """get_many refuses a bare string instead of a list of ids (not split into letters)."""
        with pytest.raises(ValidationError):
            store.get_many("tasks", "sentinel")

    # -- documents ---------------------------------------------------------------------------
    @pytest.mark.parametrize("op", ["insert", "put", "update"])
    @pytest.mark.parametrize("doc", [["v", 1], "text", None, 5], ids=repr)
    def test_document_must_be_an_object(self, store, sentinel, op, doc):
        """A document (or update's changes) that is not a dict raises ValidationError naming
        its type; nothing is written."""
        calls = {
            "insert": lambda: store.insert("tasks", doc),
            "put": lambda: store.put("tasks", "sentinel", doc),
            "update": lambda: store.update("tasks", "sentinel", doc),
        }
        with raises_naming(ValidationError, type(doc).__name__):
            calls[op]()
        assert snapshot(store) == sentinel
        assert store.get("tasks", "sentinel")["_version"] == last_seq(store)

    @pytest.mark.parametrize(
        "doc,key",
        [
            ({1: "x"}, 1),
            ({"ok": {2.5: "x"}}, 2.5),
            ({None: 1}, None),
            ({"l": [{(1, 2): 0}]}, (1, 2)),
        ],
        ids=["int", "nested-float", "none", "tuple-in-list"],
    )
    def test_keys_must_be_strings(self, store, sentinel, doc, key):
        """A non-string key anywhere in the document raises ValidationError naming the key."""
        with raises_naming(ValidationError, "key", _named(key)):
            store.put("tasks", "sentinel", doc)
        assert snapshot(store) == sentinel

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=repr)
    def test_nan_and_infinity_rejected(self, store, sentinel, value):
        """NaN and +/-Infinity (which JSON cannot hold), even nested, raise ValidationError
        naming the value and where it is."""
        with raises_naming(ValidationError, repr(value), "deep"):
            store.insert("tasks", {"ok": 1, "deep": [0, {"x": value}]})
        assert snapshot(store) == sentinel

    @pytest.mark.parametrize("value,name", NON_JSON, ids=[n for _, n in NON_JSON])
    def test_non_json_types_rejected(self, store, sentinel, value, name):
        """Values of non-JSON types (set, bytes, datetime, tuple, Decimal, ...) raise
        ValidationError naming the type and the field; nothing is converted silently."""
        with raises_naming(ValidationError, name, "field_x"):
            store.insert("tasks", {"field_x": value})
        assert snapshot(store) == sentinel

    @pytest.mark.parametrize("bad", ["a\x00b", "\x00", "x\udc80", "\ud800y"], ids=repr)
    @pytest.mark.parametrize("where", ["value", "nested", "key", "nested-key"])
    def test_nul_and_lone_surrogates_refused(self, store, sentinel, bad, where):
        """A string holding NUL or a lone surrogate (which has no UTF-8 form), as a value or a
        key at any depth, raises ValidationError naming the cause and where it is; nothing is
        written (no backend could store it faithfully everywhere)."""
        doc = {
            "value": {"field_x": bad},
            "nested": {"field_x": [1, {"deeper": bad}]},
            "key": {bad: 1},
            "nested-key": {"field_x": {"inner": {bad: 1}}},
        }[where]
        with raises_naming(ValidationError, ("NUL", "surrogate"), "document"):
            store.insert("tasks", doc)
        with raises_naming(ValidationError, ("NUL", "surrogate")):
            store.update("tasks", "sentinel", doc)
        assert snapshot(store) == sentinel
        assert store.get("tasks", "sentinel")["v"] == 1

    @pytest.mark.parametrize("bad", ["a\x00b", "x\udc80"], ids=repr)
    def test_nul_and_lone_surrogates_refused_in_ids_tables_and_queries(self, store, sentinel, bad):
        """NUL and lone surrogates are refused the same way in ids and table names
        (ValidationError) and in query values (QueryError), before anything is read or
        written."""
        with pytest.raises(ValidationError):
            store.put("tasks", bad, {"v": 1})
        with pytest.raises(ValidationError):
            store.put(bad, "x", {"v": 1})
        with pytest.raises(QueryError):
            store.find("tasks", "v = :p", params={"p": bad})
        with pytest.raises(QueryError):
            store.count("tasks", {"v": bad})
        assert snapshot(store) == sentinel

    @pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30], ids=str)
    def test_ints_beyond_64_bits_rejected(self, store, sentinel, value):
        """Integers outside the signed 64-bit range raise ValidationError naming the number."""
        with raises_naming(ValidationError, str(value)):
            store.insert("tasks", {"n": value})
        assert snapshot(store) == sentinel

    @pytest.mark.parametrize("op", ["insert", "put", "update"])
    def test_id_field_disagreeing_with_call_rejected(self, store, sentinel, op):
        """An ``id`` field that differs from the call's id raises ValidationError naming both."""
        calls = {
            "insert": lambda: store.insert("tasks", {"id": "other", "v": 2}, id="mine"),
            "put": lambda: store.put("tasks", "sentinel", {"id": "other", "v": 2}),
            "update": lambda: store.update("tasks", "sentinel", {"id": "other", "v": 2}),
        }
        with raises_naming(ValidationError, "other"):
            calls[op]()
        assert snapshot(store) == sentinel

    def test_version_on_insert_rejected(self, store, sentinel):
        """insert (which creates version 1) refuses a ``_version`` field with ValidationError."""
        with raises_naming(ValidationError, "_version"):
            store.insert("tasks", {"v": 1, "_version": 1}, id="new")
        assert store.get("tasks", "new") is None
        assert snapshot(store) == sentinel

    @pytest.mark.parametrize("version", [0, -1, "1", True, 1.0, [1]], ids=repr)
    def test_malformed_version_rejected(self, store, sentinel, version):
        """A ``_version`` that is not a positive integer raises ValidationError naming it."""
        with raises_naming(ValidationError, "_version", _named(version)):
            store.put("tasks", "sentinel", {"v": 2, "_version": version})
        assert snapshot(store) == sentinel

    def test_invalid_update_leaves_record_untouched(self, store, sentinel):
        """An update rejected for one bad nested value writes none of its other fields."""
        with pytest.raises(ValidationError):
            store.update("tasks", "sentinel", {"good": 1, "bad": {"inner": {1, 2}}})
        version = last_seq(store)
        assert store.get("tasks", "sentinel") == {"v": 1, "id": "sentinel", "_version": version}
        assert snapshot(store) == sentinel

    # -- other arguments ---------------------------------------------------------------------
    @pytest.mark.parametrize("project", ["", "has space", "-lead", "p" * 65, "a/b", 7], ids=repr)
    def test_bad_project_rejected(self, url, project):
        """open() with an invalid project name raises ValidationError naming it."""
        with raises_naming(ValidationError, "project", _named(project)):
            self.open_store(url, project=project)

    @pytest.mark.parametrize("kwargs", [{"since": -1}, {"since": "0"}, {"limit": -1}], ids=repr)
    def test_bad_changes_arguments_rejected(self, store, kwargs):
        """changes() refuses a negative or non-integer ``since``/``limit``."""
        with pytest.raises(ValidationError):
            store.changes(**kwargs)

    def test_version_mismatch_is_a_conflict_not_a_validation_error(self, store, sentinel):
        """A well-formed but wrong ``_version`` is a ConflictError (retryable), not a
        ValidationError; both are StoreErrors."""
        with pytest.raises(ConflictError) as info:
            store.put("tasks", "sentinel", {"v": 2, "_version": 7})
        assert not isinstance(info.value, ValidationError)
        assert isinstance(info.value, StoreError)
