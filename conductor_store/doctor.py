"""Integrity checks of a JSON store's project, read from its documented on-disk layout
(``backends/jsonfiles``: record files, ``.meta/log/*.jsonl[.gz]``, ``.meta/lock``), and the
one repair that never loses anything: moving a corrupt record file to ``<project>/.quarantine/``.

Nothing here uses the backend itself; it reads the files as a person would (log segments
through the layout's one reader, ``jsonfiles.segments``, as closed ones are gzip-compressed),
so it still works on a directory the backend refuses to open.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

from .backends.jsonfiles.segments import read_segment, segments
from .errors import CorruptRecordError, StoreError
from .validation import ID_RE, TABLE_RE

_TEMP_RE = re.compile(r"(\.tmp|\.temp|~|\.swp|\.bak|\.part)\Z|\A\.#|\A#.*#\Z")
QUARANTINE = ".quarantine"


@dataclass
class Finding:
    kind: str  # corrupt | stray | temp | unfinished | torn | log-mismatch | missing | locked
    message: str
    path: str | None = None
    table: str | None = None
    id: str | None = None


@dataclass
class ProjectReport:
    project: str
    path: str
    tables: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    last_seq: int = 0
    last_time: float | None = None
    lock_pids: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def projects(root: str) -> list[str]:
    """Projects of a JSON store root: directories holding ``.meta``."""
    try:
        names = os.listdir(root)
    except OSError as exc:
        raise StoreError(f"cannot list {root}: {exc.strerror or exc}") from None
    return sorted(n for n in names if os.path.isdir(os.path.join(root, n, ".meta")))


def check(
    root: str,
    project: str,
    *,
    compare_log: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ProjectReport:
    """Everything wrong with one project's files (see :class:`Finding` kinds); ``progress``
    is called with the number of files examined so far."""
    path = os.path.join(root, project)
    if not os.path.isdir(os.path.join(path, ".meta")):
        raise StoreError(f"{path} is not a conductor-store JSON project (no .meta directory)")
    rep = ProjectReport(project, path)
    records = dict(_scan_records(rep, progress))
    commits, complete = _read_log(rep)
    if compare_log and complete and not any(f.kind == "unfinished" for f in rep.findings):
        _compare(rep, records, commits)
    rep.lock_pids = lock_holders(os.path.join(path, ".meta", "lock"))
    if rep.lock_pids:
        pids = ", ".join(map(str, rep.lock_pids))
        rep.findings.append(Finding("locked", f"the write lock is held by pid {pids}"))
    return rep


def _scan_records(
    rep: ProjectReport, progress: Callable[[int], None] | None
) -> Iterator[tuple[tuple, dict]]:
    seen = 0
    for name in sorted(os.listdir(rep.path)):
        tdir = os.path.join(rep.path, name)
        rep.bytes += _du(tdir)
        if name.startswith(".") or not os.path.isdir(tdir):
            continue
        if not TABLE_RE.fullmatch(name):
            rep.findings.append(Finding("stray", "not a table directory (ignored)", tdir))
            continue
        count = 0
        for fname in sorted(os.listdir(tdir)):
            seen += 1
            if progress:
                progress(seen)
            fpath = os.path.join(tdir, fname)
            rid = fname[:-5] if fname.endswith(".json") else None
            if rid is None or not ID_RE.fullmatch(rid):
                kind = "temp" if _TEMP_RE.search(fname) else "stray"
                what = "a leftover temporary file" if kind == "temp" else "not a record file"
                rep.findings.append(Finding(kind, f"{what} (ignored)", fpath, name))
                continue
            doc, problem = _read_record(fpath, rid)
            if problem:
                rep.findings.append(Finding("corrupt", problem, fpath, name, rid))
                continue
            count += 1
            yield (name, rid), doc
        if count:
            rep.tables[name] = count


def _read_record(path: str, rid: str) -> tuple[Any, str | None]:
    if not os.path.isfile(path) or os.path.islink(path):
        return None, "not a regular file"
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except ValueError as exc:
        return None, f"does not parse as JSON ({exc})"
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if not isinstance(doc, dict):
        return None, "is not a JSON object"
    if doc.get("id") != rid:
        return None, f"holds id {doc.get('id')!r}, not {rid!r}"
    version = doc.get("_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return None, "has no positive _version"
    return doc, None


def _du(path: str) -> int:
    if not os.path.isdir(path):
        return os.path.getsize(path) if os.path.isfile(path) else 0
    total = 0
    for dirpath, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    return total


def _read_log(rep: ProjectReport) -> tuple[list[dict], bool]:
    """Commit lines of every segment; ``complete``: the log reaches back to commit 1."""
    logdir = os.path.join(rep.path, ".meta", "log")
    segs = segments(logdir) if os.path.isdir(logdir) else []
    commits: list[dict] = []
    done: set[int] = set()
    complete = bool(segs) and segs[0] <= 1
    for first in segs:
        try:
            path, data = read_segment(logdir, first)
        except FileNotFoundError:  # removed by a compaction meanwhile
            continue
        except CorruptRecordError as exc:
            rep.findings.append(Finding("corrupt", str(exc), exc.path))
            complete = False
            continue
        lines = data.split(b"\n")
        if lines and lines[-1]:
            rep.findings.append(Finding("torn", "the log ends in a torn line (an interrupted "
                                        "commit that never returned)", path))  # fmt: skip
        for line in lines[:-1]:
            entry = json.loads(line)
            if "seq" in entry:
                commits.append(entry)
            elif "done" in entry:
                done.add(entry["done"])
    for c in commits:
        if c["seq"] not in done:
            rep.findings.append(Finding("unfinished", f"commit {c['seq']} is not finished "
                                        "(doctor --repair finishes it)"))  # fmt: skip
    if commits:
        rep.last_seq = commits[-1]["seq"]
        rep.last_time = commits[-1].get("time")
    return commits, complete


def _final(commits: list[dict]) -> dict[tuple, Any]:
    """Each record's last document in the log (None: deleted)."""
    final: dict[tuple, Any] = {}
    for c in commits:
        for ch in c["changes"]:
            final[(ch["table"], ch["id"])] = ch["doc"]
    return final


def _compare(rep: ProjectReport, records: dict, commits: list[dict]) -> None:
    final = _final(commits)
    corrupt = {(f.table, f.id) for f in rep.findings if f.kind == "corrupt"}
    for key in sorted(set(final) | set(records), key=str):
        logged, found = final.get(key), records.get(key)
        if key in corrupt or logged == found:
            continue
        where = f"{key[0]}:{key[1]}"
        kind = "log-mismatch"
        if found is None:
            kind, msg = "missing", "the log says it exists, its file is missing"
        elif logged is None:
            msg = "its file exists, the log never wrote it (or deleted it)"
        else:
            msg = "its file differs from the last version the log wrote (a hand edit?)"
        rep.findings.append(Finding(kind, f"{where}: {msg}", None, key[0], key[1]))


def lock_holders(lock_path: str) -> list[int]:
    """Pids holding a lock on ``lock_path``, from ``/proc/locks`` (Linux; else [])."""
    try:
        st = os.stat(lock_path)
        with open("/proc/locks", encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = set()
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter, not a holder
            continue
        if len(parts) >= 6 and parts[5] == dev:
            pids.add(int(parts[4]))
    return sorted(p for p in pids if p > 0)


class _locked:
    """The project's writers' lock (``flock`` of ``.meta/lock``, as the backend takes it)."""

    def __init__(self, root: str, project: str) -> None:
        self.path = os.path.join(root, project, ".meta", "lock")

    def __enter__(self) -> None:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the flock


def quarantine_json(root: str, project: str, table: str, id: str) -> str:
    """Move one record file to ``<project>/.quarantine/<table>/`` (the backend's
    :meth:`~conductor_store.Store.quarantine`, under the writers' lock). Returns the new path."""
    from .store import open as open_store

    with open_store("json://" + root, project=project) as store:
        return store.quarantine(table, id)


def restore_from_log(root: str, project: str, table: str, id: str, doc: dict) -> None:
    """Write the last version the log committed back as the record file (if still absent)."""
    path = os.path.join(root, project, table, id + ".json")
    with _locked(root, project):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)


def repair(root: str, project: str, progress: Callable[[int], None] | None = None) -> dict:
    """Finish interrupted commits (by opening the store), quarantine corrupt records, and give
    them -- and record files that went missing -- back the last version the log committed."""
    from .store import open as open_store

    first = check(root, project, compare_log=False, progress=progress)
    finished = [f.message for f in first.findings if f.kind in ("unfinished", "torn")]
    if finished:
        open_store("json://" + root, project=project).close()  # recovery happens on open
    before = check(root, project)
    moved = []
    for f in before.findings:
        if f.kind == "corrupt" and f.table and f.id:
            to = quarantine_json(root, project, f.table, f.id)
            moved.append({"table": f.table, "id": f.id, "to": to, "restored": None})
        elif f.kind == "missing" and f.table and f.id:
            moved.append({"table": f.table, "id": f.id, "to": None, "restored": None})
    if moved:
        _restore(root, project, moved)
    return {"finished": finished, "quarantined": moved, "after": check(root, project).as_dict()}


def _restore(root: str, project: str, moved: list[dict]) -> None:
    """Give each quarantined record back the last version the log committed, when it has one."""
    commits, complete = _read_log(ProjectReport(project, os.path.join(root, project)))
    final = _final(commits) if complete else {}
    for m in moved:
        doc = final.get((m["table"], m["id"]))
        if doc is not None:
            restore_from_log(root, project, m["table"], m["id"], doc)
            m["restored"] = doc["_version"]
