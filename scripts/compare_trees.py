"""Compare two checkouts of conductor-store in one run: the same workloads (JSON durable and
``mem://``: insert, update, get, a 500-record transaction), each round run by one child process
per tree, the trees interleaved round by round so that both see the same machine state.

    python scripts/compare_trees.py OLD_TREE NEW_TREE [--rounds 7] [--seconds 0.3]

Prints operations per second (median of the rounds) per tree and the ratio new/old. Used for
the before/after figures of a refactoring; it needs only the public API.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, tempfile, time
import conductor_store as cs

kind, seconds = sys.argv[1], float(sys.argv[2])
workdir = tempfile.TemporaryDirectory(prefix="cmp-")
url = "mem://" if kind == "mem" else "json://" + workdir.name + "/s"

def timed(fn):
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(n)
        n += 1
    return n / (time.perf_counter() - start)

with cs.open(url) as store:
    rates = {}
    rates["insert"] = timed(lambda i: store.insert("t", {"n": i, "status": "pending"}))
    ids = [d["id"] for d in store.find("t", limit=200)]
    rates["update"] = timed(lambda i: store.update("t", ids[i % len(ids)], {"n": i}))
    rates["get"] = timed(lambda i: store.get("t", ids[i % len(ids)]))

    def tx500(i):
        with store.transaction() as tx:
            for k in range(500):
                tx.insert("b", {"k": k})

    rates["tx500 records"] = timed(tx500) * 500
workdir.cleanup()
print(json.dumps(rates))
"""


def round_of(tree: str, kind: str, seconds: float) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(seconds)],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.3)
    args = parser.parse_args()
    for kind in ("json", "mem"):
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            for name in ("old", "new"):
                runs[name].append(round_of(getattr(args, name), kind, args.seconds))
        print(f"\n{kind}:{'old/s':>24}{'new/s':>12}{'new/old':>10}")
        for op in runs["old"][0]:
            old = statistics.median(r[op] for r in runs["old"])
            new = statistics.median(r[op] for r in runs["new"])
            ratios = statistics.median(n[op] / o[op] for o, n in zip(runs["old"], runs["new"]))
            print(f"  {op:<20}{old:>10,.0f}{new:>12,.0f}{ratios:>10.2f}")


if __name__ == "__main__":
    main()
