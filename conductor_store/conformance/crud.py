"""Single-record operations: return shapes, ids, versions, put/update/delete, compare-and-set,
and the promise that returned dicts belong to the caller."""

from __future__ import annotations

import string

import pytest

from conductor_store import ConflictError, NotFoundError

from ._support import ID_SYNTAX, ids, last_seq, snapshot, strip


class CrudTests:
    # -- insert -------------------------------------------------------------------------
    def test_insert_returns_fields_id_and_version(self, store):
        """insert returns a plain dict: the document's fields plus ``id`` and ``_version``, the
        seq of the commit that wrote it."""
        store.insert("tasks", {"v": 0}, id="before")
        doc = store.insert("tasks", {"title": "Write parser", "n": 1}, id="T1")
        assert type(doc) is dict
        seq = last_seq(store)
        assert seq >= 2
        assert doc == {"title": "Write parser", "n": 1, "id": "T1", "_version": seq}

    def test_get_returns_what_insert_returned(self, store):
        """A record reads back exactly as insert returned it."""
        made = store.insert("tasks", {"title": "x", "tags": ["a", "b"], "meta": {"k": 1}})
        got = store.get("tasks", made["id"])
        assert type(got) is dict
        assert got == made

    def test_generated_id_has_valid_syntax(self, store):
        """A generated id is a valid id (1-128 letters, digits, ``_ - . :``) usable with get."""
        doc = store.insert("tasks", {"title": "x"})
        assert isinstance(doc["id"], str) and ID_SYNTAX.fullmatch(doc["id"])
        assert doc["id"] not in (".", "..")
        assert store.get("tasks", doc["id"]) == doc

    def test_generated_ids_are_unique(self, store):
        """Generated ids never repeat."""
        made = [store.insert("tasks", {"i": i})["id"] for i in range(60)]
        assert len(set(made)) == len(made)

    def test_generated_ids_sort_by_creation(self, store):
        """Generated ids sort (as strings) in the order the records were created."""
        made = [store.insert("tasks", {"i": i})["id"] for i in range(40)]
        assert sorted(made) == made

    def test_insert_existing_id_conflicts(self, store):
        """insert of an id that exists raises ConflictError and leaves the record unchanged."""
        first = store.insert("tasks", {"v": "first"}, id="dup")
        before = snapshot(store)
        with pytest.raises(ConflictError):
            store.insert("tasks", {"v": "second"}, id="dup")
        assert store.get("tasks", "dup") == first
        assert snapshot(store) == before

    def test_insert_accepts_id_in_doc_agreeing_with_call(self, store):
        """An ``id`` field equal to the call's id is accepted (and not stored twice)."""
        doc = store.insert("tasks", {"id": "same", "v": 1}, id="same")
        assert doc == {"id": "same", "v": 1, "_version": last_seq(store)}

    # -- get / get_many -------------------------------------------------------------------
    def test_get_missing_returns_none(self, store):
        """get of an absent id (or of a table that never existed) returns None."""
        store.insert("tasks", {"v": 1}, id="there")
        assert store.get("tasks", "absent") is None
        assert store.get("never_written", "there") is None

    def test_get_many_keeps_requested_order(self, store):
        """get_many returns the records in the order of the ids asked for."""
        for i in ("a", "b", "c", "d"):
            store.insert("tasks", {"v": i}, id=i)
        assert ids(store.get_many("tasks", ["c", "a", "d", "b"])) == ["c", "a", "d", "b"]

    def test_get_many_leaves_out_missing(self, store):
        """get_many silently leaves out ids that do not exist, keeping the others' order."""
        store.insert("tasks", {"v": 1}, id="a")
        store.insert("tasks", {"v": 2}, id="b")
        got = store.get_many("tasks", ["x", "b", "y", "a"])
        assert ids(got) == ["b", "a"]
        assert got[0] == store.get("tasks", "b")

    def test_get_many_of_nothing(self, store):
        """get_many with no ids, or only missing ones, returns an empty list."""
        store.insert("tasks", {"v": 1}, id="a")
        assert store.get_many("tasks", []) == []
        assert store.get_many("tasks", ["nope"]) == []

    # -- put ------------------------------------------------------------------------------
    def test_put_creates_at_its_commits_version(self, store):
        """put of a new id creates it, its ``_version`` the seq of that commit, and returns it."""
        store.put("tasks", "p0", {"v": 0})
        doc = store.put("tasks", "p1", {"v": 1})
        assert doc == {"v": 1, "id": "p1", "_version": last_seq(store)}
        assert store.get("tasks", "p1") == doc

    def test_put_replaces_whole_document(self, store):
        """put of an existing id replaces the document: fields it does not give are gone."""
        store.insert("tasks", {"a": 1, "b": 2, "nested": {"x": 1}}, id="p1")
        doc = store.put("tasks", "p1", {"c": 3})
        assert doc == {"c": 3, "id": "p1", "_version": last_seq(store)}
        assert store.get("tasks", "p1") == doc

    # -- update ---------------------------------------------------------------------------
    def test_update_merges_top_level_fields(self, store):
        """update sets the given fields and keeps the others, returning the whole record."""
        store.insert("tasks", {"a": 1, "b": 2}, id="u1")
        doc = store.update("tasks", "u1", {"b": 20, "c": 30})
        assert doc == {"a": 1, "b": 20, "c": 30, "id": "u1", "_version": last_seq(store)}
        assert store.get("tasks", "u1") == doc

    def test_update_replaces_nested_objects(self, store):
        """update is shallow: a nested object given in changes replaces the old one whole."""
        store.insert("tasks", {"meta": {"model": "m1", "tokens": 10}, "keep": True}, id="u1")
        doc = store.update("tasks", "u1", {"meta": {"model": "m2"}})
        assert doc["meta"] == {"model": "m2"}
        assert store.get("tasks", "u1")["meta"] == {"model": "m2"}
        assert doc["keep"] is True

    def test_update_replaces_arrays_and_changes_kinds(self, store):
        """update replaces a list whole (never appends or merges items) and may change a
        field's kind: object -> scalar, scalar -> list, list -> object."""
        store.insert(
            "tasks", {"tags": ["a", "b", "c"], "meta": {"x": 1}, "n": 1, "l": [1]}, id="u1"
        )
        doc = store.update(
            "tasks",
            "u1",
            {"tags": ["z"], "meta": 5, "n": [1, {"k": None}], "l": {"now": "an object"}},
        )
        assert store.get("tasks", "u1") == doc
        assert doc == {
            "tags": ["z"],
            "meta": 5,
            "n": [1, {"k": None}],
            "l": {"now": "an object"},
            "id": "u1",
            "_version": last_seq(store),
        }

    def test_update_can_set_field_to_null(self, store):
        """update with a None value stores JSON null: the field stays, with value None."""
        store.insert("tasks", {"a": 1, "b": 2}, id="u1")
        store.update("tasks", "u1", {"a": None})
        got = store.get("tasks", "u1")
        assert "a" in got and got["a"] is None and got["b"] == 2

    def test_update_missing_raises_not_found(self, store):
        """update of an absent record raises NotFoundError and creates nothing."""
        store.insert("tasks", {"v": 1}, id="other")
        before = snapshot(store)
        with pytest.raises(NotFoundError):
            store.update("tasks", "ghost", {"v": 1})
        assert store.get("tasks", "ghost") is None
        assert snapshot(store) == before

    # -- delete ---------------------------------------------------------------------------
    def test_delete_existing_returns_true(self, store):
        """delete of an existing record returns True and the record is gone."""
        store.insert("tasks", {"v": 1}, id="d1")
        assert store.delete("tasks", "d1") is True
        assert store.get("tasks", "d1") is None

    def test_delete_missing_returns_false(self, store):
        """delete of an absent record returns False (twice in a row: True then False)."""
        store.insert("tasks", {"v": 1}, id="d1")
        assert store.delete("tasks", "nope") is False
        assert store.delete("tasks", "d1") is True
        assert store.delete("tasks", "d1") is False

    def test_delete_leaves_other_records(self, store):
        """delete removes only the record named."""
        for i in ("a", "b", "c"):
            store.insert("tasks", {"v": i}, id=i)
        store.delete("tasks", "b")
        assert ids(store.get_many("tasks", ["a", "b", "c"])) == ["a", "c"]

    def test_insert_after_delete_creates_again(self, store):
        """An id freed by delete can be inserted again, holding only the new fields."""
        store.insert("tasks", {"old": 1}, id="r")
        store.delete("tasks", "r")
        doc = store.insert("tasks", {"new": 2}, id="r")
        assert strip(doc) == {"new": 2}
        assert strip(store.get("tasks", "r")) == {"new": 2}

    # -- versions -------------------------------------------------------------------------
    def test_version_grows_on_every_write(self, store):
        """Every insert/update/put of a record sets its ``_version`` to the seq of that commit,
        so it grows on each write (writing the same value again is still a write)."""
        writes = [
            lambda: store.insert("tasks", {"v": 0}, id="v"),
            lambda: store.update("tasks", "v", {"v": 1}),
            lambda: store.put("tasks", "v", {"v": 2}),
            lambda: store.update("tasks", "v", {"v": 2}),
        ]
        versions = []
        for write in writes:
            store.put("noise", "n", {"between": len(versions)})  # other commits in between
            versions.append(write()["_version"])
            assert versions[-1] == last_seq(store)
        assert versions == sorted(set(versions))
        assert store.get("tasks", "v")["_version"] == versions[-1]

    def test_versions_are_per_record(self, store):
        """Writing one record does not change another record's version."""
        store.insert("tasks", {"v": 0}, id="a")
        b = store.insert("tasks", {"v": 0}, id="b")["_version"]
        for i in range(3):
            store.update("tasks", "a", {"v": i})
        assert store.get("tasks", "b")["_version"] == b
        assert store.get("tasks", "a")["_version"] == last_seq(store) > b

    def test_version_never_repeats_after_delete_and_recreate(self, store):
        """A record deleted and created again gets a version above every version it had
        before (versions never repeat for a key, so a stale one can never match again)."""
        old = [store.insert("tasks", {"v": 0}, id="r")["_version"]]
        old.append(store.update("tasks", "r", {"v": 1})["_version"])
        store.delete("tasks", "r")
        again = store.insert("tasks", {"v": 0}, id="r")["_version"]
        assert again == last_seq(store) > max(old)

    def test_put_with_version_from_before_delete_conflicts(self, store):
        """put or update carrying a ``_version`` read before the record was deleted and created
        again raises ConflictError (ABA) and changes nothing."""
        stale = store.insert("tasks", {"v": "old"}, id="r")["_version"]
        store.delete("tasks", "r")
        fresh = store.insert("tasks", {"v": "new"}, id="r")
        before = snapshot(store)
        with pytest.raises(ConflictError):
            store.put("tasks", "r", {"v": "lost update", "_version": stale})
        with pytest.raises(ConflictError):
            store.update("tasks", "r", {"v": "lost update", "_version": stale})
        assert store.get("tasks", "r") == fresh
        assert snapshot(store) == before

    # -- compare-and-set ------------------------------------------------------------------
    def test_put_with_current_version_succeeds(self, store):
        """put with ``_version`` equal to the current version replaces and bumps the version."""
        current = store.insert("tasks", {"v": 1}, id="c")["_version"]
        doc = store.put("tasks", "c", {"v": 2, "_version": current})
        assert doc == {"v": 2, "id": "c", "_version": last_seq(store)}
        assert doc["_version"] > current

    def test_put_with_stale_version_conflicts(self, store):
        """put with a ``_version`` that is not the current one raises ConflictError, no write."""
        stale = store.insert("tasks", {"v": 1}, id="c")["_version"]
        current = store.update("tasks", "c", {"v": 2})
        before = snapshot(store)
        with pytest.raises(ConflictError):
            store.put("tasks", "c", {"v": 99, "_version": stale})
        assert store.get("tasks", "c") == current
        assert snapshot(store) == before

    def test_update_with_current_version_succeeds(self, store):
        """update with the current ``_version`` merges and bumps the version."""
        current = store.insert("tasks", {"a": 1}, id="c")["_version"]
        doc = store.update("tasks", "c", {"b": 2, "_version": current})
        assert doc == {"a": 1, "b": 2, "id": "c", "_version": last_seq(store)}

    def test_update_with_stale_version_conflicts(self, store):
        """update with a stale ``_version`` raises ConflictError and changes nothing."""
        stale = store.insert("tasks", {"a": 1}, id="c")["_version"]
        current = store.update("tasks", "c", {"a": 2})
        with pytest.raises(ConflictError):
            store.update("tasks", "c", {"a": 99, "_version": stale})
        assert store.get("tasks", "c") == current

    def test_put_with_version_on_absent_record_conflicts(self, store):
        """put expecting a version of a record that does not exist raises ConflictError."""
        before = snapshot(store)
        with pytest.raises(ConflictError):
            store.put("tasks", "ghost", {"v": 1, "_version": 1})
        assert store.get("tasks", "ghost") is None
        assert snapshot(store) == before

    # -- copies, not aliases ----------------------------------------------------------------
    @pytest.mark.parametrize("op", ["insert", "put", "update"])
    def test_write_results_are_the_callers(self, store, op):
        """Mutating the dict a write returned (even nested) does not change the store."""
        store.insert("tasks", {"v": 0, "nested": {"l": [1]}}, id="w")
        if op == "insert":
            doc = store.insert("tasks", {"v": 1, "nested": {"l": [1]}}, id="w2")
        elif op == "put":
            doc = store.put("tasks", "w2", {"v": 1, "nested": {"l": [1]}})
        else:
            store.insert("tasks", {"v": 0}, id="w2")
            doc = store.update("tasks", "w2", {"v": 1, "nested": {"l": [1]}})
        saved = store.get("tasks", "w2")
        doc["v"] = "mutated"
        doc["nested"]["l"].append(2)
        doc["extra"] = True
        assert store.get("tasks", "w2") == saved
        assert [c.doc for c in store.changes() if c.id == "w2"][-1] == saved

    def test_get_results_are_the_callers(self, store):
        """Mutating a dict returned by get or get_many (even nested) does not change the store."""
        store.insert("tasks", {"v": 1, "nested": {"l": [1]}}, id="g")
        saved = store.get("tasks", "g")
        first = store.get("tasks", "g")
        first["nested"]["l"].append(2)
        first["v"] = 2
        many = store.get_many("tasks", ["g"])[0]
        many["nested"]["x"] = 1
        del many["v"]
        assert store.get("tasks", "g") == saved
        assert store.get_many("tasks", ["g"]) == [saved]

    def test_store_keeps_no_reference_to_input(self, store):
        """Mutating the document after passing it to insert/put/update does not change the store."""
        doc = {"v": 1, "nested": {"l": [1]}}
        store.insert("tasks", doc, id="i")
        doc["nested"]["l"].append(2)
        doc["v"] = 2
        changes = {"meta": {"k": [1]}}
        store.update("tasks", "i", changes)
        changes["meta"]["k"].append(2)
        assert store.get("tasks", "i") == {
            "v": 1,
            "nested": {"l": [1]},
            "meta": {"k": [1]},
            "id": "i",
            "_version": last_seq(store),
        }

    def test_input_document_is_not_modified(self, store):
        """Writes do not add ``id``/``_version`` to (or otherwise change) the caller's dict."""
        doc = {"v": 1, "nested": {"a": 1}}
        store.insert("tasks", doc)
        version = store.put("tasks", "p", doc)["_version"]
        changes = {"w": 2, "_version": version}
        store.update("tasks", "p", changes)
        assert doc == {"v": 1, "nested": {"a": 1}}
        assert changes == {"w": 2, "_version": version}

    # -- ids and tables ---------------------------------------------------------------------
    def test_id_at_length_limit(self, store):
        """A 128-character id is accepted and reads back."""
        long_id = "x" * 120 + "01234567"
        store.insert("tasks", {"v": 1}, id=long_id)
        assert store.get("tasks", long_id)["id"] == long_id
        assert store.delete("tasks", long_id) is True

    def test_id_with_every_allowed_character(self, store):
        """An id made of every allowed character (letters, digits, ``_ - . :``) round-trips."""
        every = string.ascii_letters + string.digits + "_-.:"
        store.put("tasks", every, {"v": 1})
        assert store.get("tasks", every) == {"v": 1, "id": every, "_version": last_seq(store)}
        assert ids(store.get_many("tasks", [every])) == [every]

    @pytest.mark.parametrize("odd", ["-", "_", ":", "...", ".hidden", "a..b", "-rf", "con", "NUL"])
    def test_unusual_but_valid_ids(self, store, odd):
        """Ids that are awkward as file or key names (``-``, ``...``, ``.hidden``, ``con``) work."""
        store.put("tasks", odd, {"v": odd})
        assert store.get("tasks", odd) == {"v": odd, "id": odd, "_version": last_seq(store)}
        assert store.delete("tasks", odd) is True

    def test_ids_are_case_sensitive(self, store):
        """``abc`` and ``ABC`` are two different records."""
        store.insert("tasks", {"v": "lower"}, id="abc")
        store.insert("tasks", {"v": "upper"}, id="ABC")
        assert store.get("tasks", "abc")["v"] == "lower"
        assert store.get("tasks", "ABC")["v"] == "upper"

    def test_ids_differing_only_in_punctuation_are_distinct(self, store):
        """``a.b``, ``a:b``, ``a-b``, ``a_b`` and ``ab`` are five different records."""
        variants = ["a.b", "a:b", "a-b", "a_b", "ab"]
        for v in variants:
            store.insert("tasks", {"v": v}, id=v)
        assert [d["v"] for d in store.get_many("tasks", variants)] == variants

    def test_same_id_in_two_tables_is_two_records(self, store):
        """Tables are separate namespaces: one id in two tables names two records."""
        store.insert("tasks", {"v": "task"}, id="x")
        store.insert("runs", {"v": "run"}, id="x")
        store.delete("runs", "x")
        assert store.get("tasks", "x")["v"] == "task"
        assert store.get("runs", "x") is None

    def test_table_name_at_length_limit(self, store):
        """A 64-character table name (and one starting with ``_``) is accepted."""
        long_table = "_" + "t" * 62 + "9"
        store.insert(long_table, {"v": 1}, id="a")
        assert store.get(long_table, "a")["v"] == 1
        assert long_table in store.tables()

    def test_tables_lists_non_empty_tables_sorted(self, store):
        """tables() lists the tables holding records, sorted; [] for an empty store."""
        assert store.tables() == []
        for table in ("zeta", "alpha", "mid_1"):
            store.insert(table, {"v": 1})
        assert store.tables() == ["alpha", "mid_1", "zeta"]

    def test_tables_omits_emptied_tables(self, store):
        """A table whose last record was deleted is no longer listed."""
        store.insert("keep", {"v": 1}, id="k")
        store.insert("gone", {"v": 1}, id="g")
        store.delete("gone", "g")
        assert store.tables() == ["keep"]
