"""Deliberately broken backends: each breaks one promise of the interface, the rest is the
in-memory example. ``test_mutants.py`` requires the conformance suite to catch every one.

A mutant is a subclass of :class:`MemoryBackend` overriding as little as possible; ``MUTANTS``
maps its name to the class and the promise it breaks.
"""

from __future__ import annotations

from conductor_store import Change, CommitResult, ConflictError
from conductor_store.backends import copy_json
from conductor_store.examples import memory
from conductor_store.examples.memory import MemoryBackend, _guard

MUTANTS: dict[str, tuple[type, str]] = {}


def mutant(promise: str):
    def register(cls: type) -> type:
        MUTANTS[cls.__name__] = (cls, promise)
        return cls

    return register


# -- atomicity and checks --------------------------------------------------------------------
@mutant("a commit is atomic: a write that cannot apply leaves the earlier ones unwritten")
class NonAtomicCommit(MemoryBackend):
    def commit(self, writes, checks):
        changes: list = []
        seq = None
        for i, w in enumerate(writes):  # each write its own commit
            result = MemoryBackend.commit(self, [w], checks if i == 0 else {})
            changes += result.changes
            seq = result.seq or seq
        return CommitResult(seq, changes)


@mutant("checks are verified before anything is written")
class CheckAfterWrite(MemoryBackend):
    def commit(self, writes, checks):
        result = MemoryBackend.commit(self, writes, {})
        with _guard:
            for (table, id), version in checks.items():
                current = self._state["tables"].get(table, {}).get(id)
                have = current["_version"] if current else None
                if have != version and have != (version or 0) + 1:
                    raise ConflictError(f"{table}:{id} changed")
        return result


@mutant("a version check fails when the record changed")
class IgnoresVersionChecks(MemoryBackend):
    def commit(self, writes, checks):
        return MemoryBackend.commit(self, writes, {})


@mutant("a check that expects the record absent fails when it exists")
class AbsentCheckPasses(MemoryBackend):
    def commit(self, writes, checks):
        return MemoryBackend.commit(self, writes, {k: v for k, v in checks.items() if v})


@mutant("insert of an existing id raises ConflictError")
class InsertOverwrites(MemoryBackend):
    def commit(self, writes, checks):
        writes = [
            w.__class__("put", w.table, w.id, w.doc) if w.kind == "insert" else w for w in writes
        ]
        return MemoryBackend.commit(self, writes, checks)


@mutant("merge of a missing record raises NotFoundError")
class MergeCreatesMissing(MemoryBackend):
    def commit(self, writes, checks):
        with _guard:
            tables = self._state["tables"]
            writes = [
                w.__class__("put", w.table, w.id, w.doc)
                if w.kind == "merge" and w.id not in tables.get(w.table, {})
                else w
                for w in writes
            ]
        return MemoryBackend.commit(self, writes, checks)


@mutant("merge keeps the fields it does not name")
class MergeReplaces(MemoryBackend):
    def commit(self, writes, checks):
        writes = [
            w.__class__("put", w.table, w.id, w.doc) if w.kind == "merge" else w for w in writes
        ]
        return MemoryBackend.commit(self, writes, checks)


@mutant("the writes of a commit apply in order (the last write of a record wins)")
class WritesInReverse(MemoryBackend):
    def commit(self, writes, checks):
        return MemoryBackend.commit(self, list(reversed(writes)), checks)


# -- versions --------------------------------------------------------------------------------
@mutant("every write bumps _version")
class LostVersionBump(MemoryBackend):
    @staticmethod
    def _apply(rows, w, seq):
        old = rows.get(w.id)
        change = MemoryBackend._apply(rows, w, seq)
        if old is not None and w.id in rows:
            rows[w.id]["_version"] = old["_version"]
            change = change._replace(doc=copy_json(rows[w.id]))
        return change


@mutant("a version never repeats for a key, even after delete and re-create")
class VersionsRestartAfterDelete(MemoryBackend):
    """What the in-memory example itself did before versions became commit numbers."""

    @staticmethod
    def _apply(rows, w, seq):
        change = MemoryBackend._apply(rows, w, seq)
        if w.kind != "delete" and change and change.op == "insert":
            rows[w.id]["_version"] = 1
            change = change._replace(doc=copy_json(rows[w.id]))
        return change


# -- reads -----------------------------------------------------------------------------------
@mutant("get returns a fresh copy: changing it does not change the store")
class GetSharesDicts(MemoryBackend):
    def get(self, table, id):
        with _guard:
            return self._state["tables"].get(table, {}).get(id)


@mutant("get_many returns the records in the order asked")
class GetManyInStoredOrder(MemoryBackend):
    def get_many(self, table, ids):
        wanted = set(ids)
        return [copy_json(d) for d in self.scan(table) if d["id"] in wanted]


@mutant("tables() lists only tables holding records")
class TablesListsEmptied(MemoryBackend):
    def tables(self):
        with _guard:
            return sorted(self._state["tables"])


@mutant("a find push-down agrees with the Python evaluator on NULLs")
class FindPushdownWrongOnNulls(MemoryBackend):
    def find(self, table, query):
        def blank(doc):
            return {k: ("" if v is None else v) for k, v in doc.items()}

        pairs = [(blank(d), d) for d in self.scan(table)]
        keep = {id(b) for b in query.apply([b for b, _ in pairs])}
        return [copy_json(d) for b, d in pairs if id(b) in keep]


@mutant("count agrees with find")
class CountIgnoresWhere(MemoryBackend):
    def count(self, table, query):
        return len(self.scan(table))


@mutant("a deleted record is gone from scans")
class ScanKeepsDeleted(MemoryBackend):
    def commit(self, writes, checks):
        with _guard:
            kept = {
                (w.table, w.id): self._state["tables"].get(w.table, {}).get(w.id)
                for w in writes
                if w.kind == "delete"
            }
        result = MemoryBackend.commit(self, writes, checks)
        with _guard:
            self._state.setdefault("ghosts", {}).update({k: v for k, v in kept.items() if v})
        return result

    def scan(self, table):
        ghosts = [d for (t, _), d in self._state.get("ghosts", {}).items() if t == table]
        return MemoryBackend.scan(self, table) + ghosts


# -- the change log --------------------------------------------------------------------------
@mutant("the change log is written by the commit: a commit that raised logs nothing")
class LogOutsideCommit(MemoryBackend):
    def commit(self, writes, checks):
        try:
            return MemoryBackend.commit(self, writes, checks)
        except Exception:
            with _guard:
                seq = self._state["seq"] + 1
                self._state["seq"] = seq
                self._state["log"].extend(
                    Change(seq, w.table, w.id, "insert", copy_json(w.doc))
                    for w in writes
                    if w.kind != "delete"
                )
            raise


@mutant("changes() returns copies: changing one does not change the log")
class ChangesShareDicts(MemoryBackend):
    def changes(self, since=0, tables=None, limit=None):
        with _guard:
            found = [
                c
                for c in self._state["log"]
                if c.seq > since and (tables is None or c.table in tables)
            ]
        return found[:limit]


@mutant("changes(since) starts after since")
class ChangesIgnoreSince(MemoryBackend):
    def changes(self, since=0, tables=None, limit=None):
        return MemoryBackend.changes(self, 0, tables, limit)


@mutant("changes(tables=...) keeps only those tables")
class ChangesIgnoreTables(MemoryBackend):
    def changes(self, since=0, tables=None, limit=None):
        return MemoryBackend.changes(self, since, None, limit)


@mutant("changes(limit=n) returns at most n")
class ChangesIgnoreLimit(MemoryBackend):
    def changes(self, since=0, tables=None, limit=None):
        return MemoryBackend.changes(self, since, tables, None)


@mutant("changes come in commit order")
class ChangesNewestFirst(MemoryBackend):
    def changes(self, since=0, tables=None, limit=None):
        return list(reversed(MemoryBackend.changes(self, since, tables, None)))[:limit]


@mutant("a delete is logged")
class DeletesNotLogged(MemoryBackend):
    def changes(self, since=0, tables=None, limit=None):
        found = MemoryBackend.changes(self, since, tables, None)
        return [c for c in found if c.op != "delete"][:limit]


@mutant("a put that replaces a record logs 'update'")
class PutLogsInsert(MemoryBackend):
    @staticmethod
    def _apply(rows, w, seq):
        change = MemoryBackend._apply(rows, w, seq)
        return change._replace(op="insert") if change and change.op == "update" else change


@mutant("a change carries the document after the write")
class ChangeCarriesOldDoc(MemoryBackend):
    @staticmethod
    def _apply(rows, w, seq):
        old = copy_json(rows.get(w.id))
        change = MemoryBackend._apply(rows, w, seq)
        return change._replace(doc=old) if change and change.op == "update" else change


@mutant("a commit that changes nothing takes no number")
class EmptyCommitTakesNumber(MemoryBackend):
    def commit(self, writes, checks):
        result = MemoryBackend.commit(self, writes, checks)
        if result.seq is None:
            with _guard:
                self._state["seq"] += 1
            return CommitResult(self._state["seq"], result.changes)
        return result


@mutant("each commit takes the next number: numbers grow by one")
class SeqSkips(MemoryBackend):
    def commit(self, writes, checks):
        result = MemoryBackend.commit(self, writes, checks)
        if result.seq is not None:
            with _guard:
                self._state["seq"] += 1
        return result


# -- projects and persistence ----------------------------------------------------------------
@mutant("projects never see each other's data")
class ProjectsShareData(MemoryBackend):
    def __init__(self, url, project):
        super().__init__(url, "shared")


@mutant("data survives close() and a new open() (persistent)")
class ForgetsOnClose(MemoryBackend):
    def close(self):
        with _guard:
            memory._locations.pop(self.url, None)


@mutant("values round-trip exactly: 1.0 stays a float")
class FloatsBecomeInts(MemoryBackend):
    def get(self, table, id):
        doc = MemoryBackend.get(self, table, id)
        if doc:
            for k, v in doc.items():
                if isinstance(v, float) and v.is_integer():
                    doc[k] = int(v)
        return doc
