"""Memory: what holding every record costs a fresh process, the JSON Store beside sqlite3.

Each side runs in a new process (so nothing else of the run is in it) that reads its resident
set size (``/proc/self/statm``) before and after taking in the same records:

* **Store**: ``conductor_store.open`` + one ``get`` (imports and open done), RSS; then one
  ``count`` of the whole table, which fills the reader cache (and its indexes) without
  copying any answer out of it; RSS again: the growth is what the cache keeps.
* **sqlite3**: ``connect`` + one ``SELECT`` by id, RSS; then ``SELECT id, doc FROM t``
  fetched into a list of ``(id, dict)`` tuples (each ``doc`` parsed with ``json.loads``),
  held; RSS again.

Rounds alternate the two; a figure is the median growth in MiB. Linux only (``/proc``)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from ..data import TABLE, make_id
from ..engines import SqliteEngine, StoreEngine
from ..procs import child_env, last_line
from ..results import Comparison, Ref
from ..timing import median, short_error
from . import Measurement

MIB = 1024 * 1024

_RSS = (
    "import gc, json, os\n"
    "def rss():\n"
    "    with open('/proc/self/statm') as f:\n"
    "        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
)
_STORE = (
    "import conductor_store as cs\n"
    "s = cs.open(os.environ['CONDUCTOR_BENCH_URL'], project={project!r}, **{options!r})\n"
    "s.get({table!r}, {probe!r})\n"
    "before = rss()\n"
    "n = s.count({table!r})\n"
    "gc.collect()\n"
    "after = rss()\n"
)
_SQLITE = (
    "import sqlite3\n"
    "c = sqlite3.connect({path!r})\n"
    "c.execute('SELECT doc FROM t WHERE id = ?', ({probe!r},)).fetchone()\n"
    "before = rss()\n"
    "rows = [(i, json.loads(d)) for i, d in c.execute('SELECT id, doc FROM t').fetchall()]\n"
    "gc.collect()\n"
    "after = rss()\n"
    "n = len(rows)\n"
)
_PRINT = "print(json.dumps({'before': before, 'after': after, 'n': n}))\n"


class Memory(Measurement):
    """RSS growth of a fresh process taking in every record: JSON Store vs sqlite3."""

    kind = "comparisons"

    def __init__(
        self, *, target: Any, root: str, records: int, store: StoreEngine, sqlite: SqliteEngine
    ) -> None:
        self.target, self.root, self.records, self.url = target, root, records, store.url
        self.rounds = 3
        self.label = f"{target.name}: memory holding {records:,} records"
        probe = make_id(records // 2)
        options = store.options
        self.codes = {
            "store": _RSS
            + _STORE.format(project=store.project, options=options, table=TABLE, probe=probe)
            + _PRINT,
            "sqlite": _RSS + _SQLITE.format(path=sqlite.path, probe=probe) + _PRINT,
        }
        self.mib: dict[str, list[float]] = {"store": [], "sqlite": []}
        self.errors: dict[str, str] = {}

    def _once(self, name: str) -> None:
        if name in self.errors:
            return
        try:
            self.mib[name].append(self._child(self.codes[name]))
        except Exception as exc:  # noqa: BLE001 -- reported, the run goes on
            self.errors[name] = short_error(exc)

    def _child(self, code: str) -> float:
        env = child_env(self.root, CONDUCTOR_BENCH_URL=self.url)
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {last_line(proc.stderr)}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        if got["n"] != self.records:
            raise AssertionError(f"took in {got['n']} records, expected {self.records}")
        return (got["after"] - got["before"]) / MIB

    def reference_round(self) -> None:
        self._once("sqlite")

    def store_round(self) -> None:
        self._once("store")

    def result(self) -> Comparison:
        store, sqlite = median(self.mib["store"]), median(self.mib["sqlite"])
        pairs = [r / s for s, r in zip(self.mib["store"], self.mib["sqlite"]) if s > 0]
        ref = Ref("sqlite", "sqlite3 row list", sqlite, median(pairs))
        return Comparison(
            kind="memory",
            target=self.target.name,
            family=self.target.family,
            op="memory",
            title="RSS growth, all held",
            records=self.records,
            unit="MiB",
            store=store,
            refs=[ref],
            rounds=self.rounds,
            errors=dict(self.errors),
        )
