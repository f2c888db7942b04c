"""A project as JSON Lines: export, import, and the canonical form migration digests use.

Format (version 1)::

    {"format":"conductor-store-export","version":1,"project":"P","position":42,"tables":{...}}
    {"table":"tasks","id":"T1","doc":{"status":"done","title":"Write parser"}}
    ...

The first line is the header: ``position`` is the store's change-log position (the seq of its
last commit) when the export started, ``tables`` the record count per table. Every other line is
one record: its table, id and fields (keys sorted, compact separators, UTF-8). Records come
sorted by table, then id, so two stores holding the same records export the same bytes whatever
their backend. ``_version`` is not exported: it is the seq of the commit that last wrote a
record in *its* store, and an import gives every record the version of the commit that writes
it. Everything is streamed: memory holds one page of records at a time.
"""

from __future__ import annotations

import hashlib
import json
from typing import IO, Any, Callable, Iterable, Iterator

from .errors import StoreError, ValidationError
from .validation import check_doc, check_id, check_table

FORMAT = "conductor-store-export"
VERSION = 1
PAGE = 1000

Progress = Callable[..., None]  # progress(done) or progress(done, total)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fields(doc: dict) -> dict:
    """The record's own fields: without ``id`` and ``_version``."""
    return {k: v for k, v in doc.items() if k not in ("id", "_version")}


def pages(store: Any, table: str, after: str | None = None, size: int = PAGE) -> Iterator[list]:
    """Records of ``table`` in id order, a page at a time, from the id after ``after``."""
    while True:
        if after is None:
            page = store.find(table, order_by="id", limit=size)
        else:
            page = store.find(table, "id > :after", params={"after": after}, order_by="id",
                              limit=size)  # fmt: skip
        if not page:
            return
        yield page
        if len(page) < size:
            return
        after = page[-1]["id"]


def last_seq(store: Any) -> int:
    """The seq of the store's last commit (0: none), in O(log n) ``changes`` calls."""
    lo = store.backend.pruned_through()

    def later(k: int) -> bool:
        return bool(store.changes(k, limit=1))

    step = 1
    while later(lo + step - 1):
        lo, step = lo + step, step * 2
    hi = lo + step - 1  # later(lo - 1) holds (or lo is the floor); later(hi) does not
    while lo < hi:
        mid = (lo + hi) // 2
        if later(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def counts(store: Any) -> dict[str, int]:
    return {t: store.count(t) for t in store.tables()}


def export(store: Any, out: IO[str], *, progress: Progress | None = None) -> dict:
    """Write ``store``'s project to ``out``; returns the header."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "project": store.project,
        "position": last_seq(store),
        "tables": counts(store),
    }
    out.write(canonical(header) + "\n")
    done = 0
    for table in header["tables"]:
        for page in pages(store, table):
            for doc in page:
                out.write(canonical({"table": table, "id": doc["id"], "doc": fields(doc)}) + "\n")
            done += len(page)
            if progress:
                progress(done)
    return header


def read_header(line: str) -> dict:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValidationError(f"line 1 is not a {FORMAT} header")
    if header.get("version") != VERSION:
        raise ValidationError(
            f"export format version {header.get('version')!r} is not supported (this build "
            f"reads version {VERSION})"
        )
    return header


def read_records(lines: Iterable[str], first_line: int = 2) -> Iterator[tuple[str, str, dict]]:
    """``(table, id, fields)`` of each record line, validated; errors name the line."""
    for n, line in enumerate(lines, first_line):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            table, id = check_table(rec["table"]), check_id(rec["id"])
            body, _ = check_doc(rec["doc"], id)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"line {n}: not a record line ({exc})") from None
        yield table, id, body


def import_(
    store: Any,
    lines: IO[str],
    *,
    batch_size: int = 500,
    merge: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Read an export into ``store``: one transaction per ``batch_size`` records. Refuses a
    non-empty project unless ``merge`` (then records with the same id are replaced, and
    identical ones left alone). Returns counts of written and unchanged records."""
    header = read_header(lines.readline())
    total = sum(header.get("tables", {}).values())
    if not merge and store.tables():
        raise StoreError(
            f"project {store.project!r} is not empty ({', '.join(store.tables())}): "
            "import into an empty project, or pass --merge"
        )
    stats: dict[str, Any] = {"written": 0, "unchanged": 0, "header": header}
    batch: list[tuple[str, str, dict]] = []
    for rec in read_records(lines):
        batch.append(rec)
        if len(batch) >= batch_size:
            _write_batch(store, batch, stats)
            batch = []
            if progress:
                progress(stats["written"] + stats["unchanged"], total)
    if batch:
        _write_batch(store, batch, stats)
    if progress:
        progress(stats["written"] + stats["unchanged"], total)
    return stats


def _write_batch(store: Any, batch: list, stats: dict) -> None:
    with store.transaction() as tx:
        for table, id, body in batch:
            current = tx.get(table, id)
            if current is not None and fields(current) == body:
                stats["unchanged"] += 1
                continue
            tx.put(table, id, body)
            stats["written"] += 1


class Digest:
    """Count and sha256 of a table's records in canonical form, fed in id order."""

    def __init__(self) -> None:
        self.count = 0
        self._h = hashlib.sha256()

    def add(self, id: str, doc: dict | None) -> None:
        """Feed one record (``None``: absent, which changes the digest too)."""
        self.count += doc is not None
        body = None if doc is None else fields(doc)
        self._h.update((canonical([id, body]) + "\n").encode())

    @property
    def hex(self) -> str:
        return self._h.hexdigest()


def table_digest(store: Any, table: str) -> Digest:
    digest = Digest()
    for page in pages(store, table):
        for doc in page:
            digest.add(doc["id"], doc)
    return digest
