"""A bank of accounts written by transactions, killed with SIGKILL at random points and
checked afterwards: the kill -9 trials of the on-disk backends (JSON files, surrealkv).

Each transaction moves money between two accounts (the total never changes), rewrites a batch
of records (all carry the transaction's number), inserts a history record and deletes an older
one, and bumps a counter. A writer reports each commit on a pipe once ``atomic`` returned; after
every kill the store must open with no reported commit lost, no transaction half applied, and a
change log that replays to the data.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import Any

import conductor_store as cs

ACCOUNTS, BATCH = 6, 8


def move(tx: Any, rng: random.Random) -> int:
    """One transfer transaction; returns its number."""
    n = tx.get("state", "s")["n"] + 1
    a, b = rng.sample(range(ACCOUNTS), 2)
    amount = rng.randrange(10)
    acct_a, acct_b = tx.get("acct", f"a{a}"), tx.get("acct", f"a{b}")
    tx.update("acct", f"a{a}", {"bal": acct_a["bal"] - amount})
    tx.update("acct", f"a{b}", {"bal": acct_b["bal"] + amount})
    for i in range(BATCH):
        tx.put("batch", f"b{i}", {"n": n, "pad": "z" * rng.randrange(200)})
    if n % 3 == 0:
        tx.delete("hist", f"h{n - 3}")
    tx.insert("hist", {"n": n}, id=f"h{n}")
    tx.update("state", "s", {"n": n})
    return n


def write_forever(url: str, out: int, seed: int, **options: Any) -> None:
    """The writer: commit transfers until killed, reporting each committed number on ``out``."""
    rng = random.Random(seed)
    store = cs.open(url, **options)
    while True:
        n = store.atomic(lambda tx: move(tx, rng), retries=1000)
        os.write(out, b"%d\n" % n)


def set_up(url: str) -> None:
    with cs.open(url) as store, store.transaction() as tx:
        tx.insert("state", {"n": 0}, id="s")
        for a in range(ACCOUNTS):
            tx.insert("acct", {"bal": 100}, id=f"a{a}")


def replayed(store: cs.Store) -> dict:
    """The data the change log describes."""
    out: dict = {}
    for c in store.changes():
        if c.op == "delete":
            out.pop((c.table, c.id), None)
        else:
            out[(c.table, c.id)] = c.doc
    return out


def check(url: str, reported: int) -> int:
    """Open the store after a kill and check every promise; returns the last commit's number."""
    with cs.open(url) as s:
        n = s.get("state", "s")["n"]
        assert n >= reported, "a reported commit was lost"
        batch = s.find("batch")
        assert not batch or {d["n"] for d in batch} == {n}, "a transaction is half applied"
        assert sum(d["bal"] for d in s.find("acct")) == ACCOUNTS * 100
        hist = sorted(d["n"] for d in s.find("hist"))  # commit k inserts h_k, deletes h_(k-3)
        assert hist == [k for k in range(1, n + 1) if not (k % 3 == 0 and k + 3 <= n)]
        assert replayed(s) == {(t, d["id"]): d for t in s.tables() for d in s.find(t)}
        seqs = [c.seq for c in s.changes()]
        assert seqs == sorted(seqs)
        return n


CHILD = (
    "import os, sys; from tests.support.bank import write_forever; "
    "write_forever(sys.argv[1], 1, int(sys.argv[2]))"
)


def kill_trials(url: str, trials: int, seed: int, start: Any = None) -> int:
    """Run ``trials`` writers one after another, each killed at a random point once it has
    committed at least once, checking the store after each. ``start(url, seed, write_fd)``
    starts a writer and returns its pid (default: a fresh Python process); returns the
    number of the last commit."""
    set_up(url)
    rng = random.Random(seed)
    reported = 0
    for _ in range(trials):
        r, w = os.pipe()
        pid = (start or _spawn)(url, rng.randrange(1 << 30), w)
        os.close(w)
        deadline = time.monotonic() + 60
        got = b""
        while b"\n" not in got and time.monotonic() < deadline:  # it committed once at least
            chunk = os.read(r, 64)
            if not chunk:
                break
            got += chunk
        time.sleep(rng.uniform(0, 0.02))  # a random kill point, not a synchronisation
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(r, "rb") as f:
            got += f.read()
        lines = [int(x) for x in got.split()]
        assert lines, "the writer never committed"
        reported = max(reported, lines[-1])
        assert check(url, reported) >= reported
    return reported


def _spawn(url: str, seed: int, out: int) -> int:
    from tests.support import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(seed)],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.DEVNULL,
    )
    return proc.pid
