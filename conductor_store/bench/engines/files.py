"""Raw file references: one JSON file per record, and the fixed floors of a durable commit."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from ..data import matches
from .base import Engine

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PAYLOAD = b"x" * 99 + b"\n"  # 100 bytes: about one commit line


class FilesEngine(Engine):
    """One JSON file per record: write to a temp file (+ fsync when durable) and rename."""

    ops = frozenset({"insert", "get", "update", "find", "count", "tx500"})
    kind = "files"

    def __init__(self, directory: str, fsync: bool = True):
        super().__init__()
        self.dir, self.fsync = directory, fsync
        self.label = "write+fsync+rename" if fsync else "write+rename"

    def describe(self, op: str) -> str:
        if op == "get":
            return "open+read+loads"
        if op in ("find", "count"):
            return "read+parse all"
        return self.label

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "dir": self.dir, "fsync": self.fsync}

    def cold_code(self, probe: str) -> str:
        path = os.path.join(self.dir, probe + ".json")
        return f"import json\nwith open({path!r}, 'rb') as f:\n    d = json.loads(f.read())\n"

    def open(self) -> None:
        os.makedirs(self.dir, exist_ok=True)

    def _write(self, id: str, doc: dict, fsync: bool) -> None:
        path = os.path.join(self.dir, id + ".json")
        tmp = os.path.join(self.dir, f".{id}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(json.dumps(doc, separators=(",", ":")).encode())
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)

    def load(self, items: list[tuple[str, dict]]) -> None:
        for id, doc in items:
            self._write(id, doc, False)

    def insert(self, id: str, doc: dict) -> None:
        self._write(id, doc, self.fsync)

    def get(self, id: str) -> Any:
        with open(os.path.join(self.dir, id + ".json"), "rb") as f:
            return json.loads(f.read())

    def update(self, id: str, changes: dict) -> None:
        doc = self.get(id)
        doc.update(changes)
        self._write(id, doc, self.fsync)

    def _scan(self) -> Iterable[tuple[str, dict]]:
        for name in os.listdir(self.dir):
            if name.endswith(".json"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    yield name, json.loads(f.read())

    def find(self) -> int:
        return len(sorted((name, doc) for name, doc in self._scan() if matches(doc)))

    def count(self) -> int:
        return sum(1 for _, doc in self._scan() if matches(doc))

    def count_all(self) -> int:
        return sum(1 for name in os.listdir(self.dir) if name.endswith(".json"))

    def tx(self, items: list[tuple[str, dict]]) -> None:
        for id, doc in items:
            self._write(id, doc, self.fsync)


class AppendEngine(Engine):
    """Append 100 bytes to a file and (when ``fsync``) fsync it: the floor of a durable
    commit. ``lock``: under an exclusive ``flock`` of the shared file (the limit for a locked
    commit); ``own``: every process appends to its own file (parallel fsyncs)."""

    ops = frozenset({"insert"})
    kind = "append"

    def __init__(self, directory: str, *, lock: bool, own: bool = False, fsync: bool = True):
        super().__init__()
        self.dir, self.lock, self.own, self.fsync = directory, lock, own, fsync
        self.fd: int | None = None
        sync = "fsync" if fsync else "write"
        if own:
            self.label = f"{sync}, own files"
        elif lock:
            self.label = f"lock+{sync} 1 file"
        else:
            self.label = f"100 B write+{sync}" if fsync else "100 B write"

    def spec(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dir": self.dir,
            "lock": self.lock,
            "own": self.own,
            "fsync": self.fsync,
        }

    def open(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        name = f"own-{os.getpid()}.log" if self.own else "append.log"
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self.fd = os.open(os.path.join(self.dir, name), flags, 0o644)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def load(self, items: list[tuple[str, dict]]) -> None:
        pass

    def insert(self, id: str, doc: dict) -> None:
        assert self.fd is not None
        if self.lock and fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            os.write(self.fd, PAYLOAD)
            if self.fsync:
                os.fsync(self.fd)
        finally:
            if self.lock and fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)

    def count_all(self) -> int:
        names = [n for n in os.listdir(self.dir) if n.endswith(".log")]
        return sum(os.path.getsize(os.path.join(self.dir, n)) for n in names) // len(PAYLOAD)


class Files500Engine(Engine):
    """Creating one small file per record (open, write, close), no fsync."""

    label = "create 500 files"
    ops = frozenset({"tx500"})

    def __init__(self, directory: str):
        super().__init__()
        self.dir = directory

    def open(self) -> None:
        os.makedirs(self.dir, exist_ok=True)

    def load(self, items: list[tuple[str, dict]]) -> None:
        pass

    def tx(self, items: list[tuple[str, dict]]) -> None:
        for id, doc in items:
            with open(os.path.join(self.dir, id + ".json"), "w") as f:
                f.write(json.dumps(doc))


class TinyEngine(Engine):
    """TinyDB with its default JSON storage (the whole file rewritten on every insert)."""

    label = "TinyDB"
    ops = frozenset({"insert"})

    def __init__(self, path: str):
        super().__init__()
        self.path: str = path
        self.db: Any = None

    def open(self) -> None:
        from tinydb import TinyDB

        self.db = TinyDB(self.path)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def load(self, items: list[tuple[str, dict]]) -> None:
        self.db.insert_multiple([{**doc, "id": id} for id, doc in items])

    def insert(self, id: str, doc: dict) -> None:
        self.db.insert({**doc, "id": id})


def tinydb_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tinydb") is not None
