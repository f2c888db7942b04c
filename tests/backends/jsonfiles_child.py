"""Child process for the JSON backend's crash and concurrency tests (run with sys.executable).

python jsonfiles_child.py bank ROOT K DURABLE SEED
    open as bank writer K, print "ready", wait for a line on stdin, commit one bank
    transaction, print "started", then commit more until killed
python jsonfiles_child.py incr ROOT COUNT
    open, print "ready", wait for a line on stdin, make COUNT atomic increments of
    counter:c, print "done"
"""

from __future__ import annotations

import random
import sys

import conductor_store as cs
from conductor_store.backends import jsonfiles

ACCOUNTS = 8
BALANCE = 100
BATCH = 12  # records each writer rewrites in every transaction, all carrying its number
HISTORY = 5  # hist records kept per writer: its last HISTORY transactions'
WRITERS = 2  # writer k keeps its own state{k} and b{k}_*; the accounts are shared


def setup_bank(store: cs.Store) -> None:
    """The state every bank transaction preserves (one commit, seq 1)."""
    with store.transaction() as tx:
        for k in range(WRITERS):
            tx.insert("batch", {"n": 0}, id=f"state{k}")
            for j in range(BATCH):
                tx.insert("batch", {"tx": 0}, id=f"b{k}_{j:02d}")
        for a in range(ACCOUNTS):
            tx.insert("acct", {"bal": BALANCE}, id=f"a{a}")


def batch_ids(k: int) -> list[str]:
    return [f"b{k}_{j:02d}" for j in range(BATCH)]


def bank_tx(rng: random.Random, k: int):
    """Writer k's transaction: bump its counter, stamp its batch records with it, move money
    between two shared accounts, add a history record and drop the one HISTORY back."""

    def tx(t: cs.Transaction) -> int:
        n = t.get("batch", f"state{k}")["n"] + 1
        t.update("batch", f"state{k}", {"n": n})
        for id in batch_ids(k):
            t.put("batch", id, {"tx": n, "pad": "x" * rng.randint(0, 40)})
        a, b = rng.sample(range(ACCOUNTS), 2)
        amount = rng.randint(1, 20)
        t.update("acct", f"a{a}", {"bal": t.get("acct", f"a{a}")["bal"] - amount})
        t.update("acct", f"a{b}", {"bal": t.get("acct", f"a{b}")["bal"] + amount})
        t.insert("hist", {"n": n}, id=f"h{k}_{n:06d}")
        if n > HISTORY:
            t.delete("hist", f"h{k}_{n - HISTORY:06d}")
        return n

    return tx


def main(argv: list[str]) -> None:
    mode, root = argv[1], argv[2]
    if mode == "bank":
        writer, durable, seed = int(argv[3]), argv[4] == "1", int(argv[5])
        jsonfiles.SEGMENT_BYTES = 96 * 1024  # rotate often, so that kills land in rotations too
        rng = random.Random(seed)
        store = cs.open(root, durable=durable)
        tx = bank_tx(rng, writer)
        print("ready", flush=True)
        sys.stdin.readline()
        store.atomic(tx, retries=10_000)
        print("started", flush=True)  # committed once; keeps committing
        while True:
            store.atomic(tx, retries=10_000)
    elif mode == "incr":
        count = int(argv[3])
        store = cs.open(root)
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(count):
            store.atomic(
                lambda t: t.update("counter", "c", {"n": t.get("counter", "c")["n"] + 1}),
                retries=10_000,
            )
        store.close()
        print("done", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv)
