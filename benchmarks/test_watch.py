"""Watch figures: commit-return -> watcher-yield latency (p50/p95) and an idle watcher's CPU.

Not a timed test: it prints figures (and checks only that every commit arrived). Run::

    python -m pytest benchmarks/test_watch.py -s          # or: python benchmarks/test_watch.py

Latency: a writer commits one insert after a random pause of up to ``PACE`` seconds and notes
``time.monotonic()`` when ``commit`` returned (the clock is system-wide on Linux); the watcher
notes when it yielded the change. Cross-process where the backend allows it (JSON files, the
server over the loopback endpoint), else a writer thread in the watcher's process (``mem://``,
``surrealkv://``, which one process opens at a time). "JSON + inotify" is the JSON backend with
``change_signal_path()`` naming its log directory (what the JSON backend's own hook does once
it has one); "JSON, poll" is the backend without the hook.

Idle CPU: a process watching an idle store for ``IDLE_SECONDS`` reports its own CPU time
(user + system) over that time; for the server, the server process's CPU is added.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import conductor_store as cs
from conductor_store.backends.jsonfiles import JsonBackend

ROOT = Path(__file__).resolve().parents[1]
COMMITS = 150
#: the writer pauses a random 0..PACE seconds before each commit, so that commits meet
#: watchers at every stage of the poll's back-off (up to 100 ms)
PACE = 0.12
IDLE_SECONDS = 3.0


class SignallingJsonBackend(JsonBackend):
    def change_signal_path(self):
        return os.path.join(self.info()["path"], self._project, ".meta", "log")


def _open_signalling(url, *, project, **options):
    return SignallingJsonBackend(url, url[len("jsonsig://") :], project, **options)


SETUP = """
import conductor_store as cs, os
from conductor_store.backends.jsonfiles import JsonBackend
class SignallingJsonBackend(JsonBackend):
    def change_signal_path(self):
        return os.path.join(self.info()["path"], self._project, ".meta", "log")
cs.register("jsonsig", lambda url, *, project, **o: SignallingJsonBackend(
    url, url[len("jsonsig://"):], project, **o))
"""

WRITER = (
    SETUP
    + """
import json, random, sys, time
store = cs.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
times = []
for i in range(int(sys.argv[2])):
    time.sleep(random.uniform(0, float(sys.argv[3])))
    store.insert("bench", {"i": i})
    times.append(time.monotonic())
print(json.dumps(times), flush=True)
store.close()
"""
)

IDLE = (
    SETUP
    + """
import json, resource, sys, time
store = cs.open(sys.argv[1])
watcher = store.watch(timeout=float(sys.argv[2]))
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
assert list(watcher) == []
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({"cpu": cpu, "wall": t1 - t0}))
store.close()
"""
)


def _child(program: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", program, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def _percentiles(values: list[float]) -> dict:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return {"p50_ms": statistics.median(values) * 1000, "p95_ms": p95 * 1000, "n": len(values)}


def latency(url: str, cross_process: bool) -> dict:
    """Commit -> yield latency of COMMITS paced commits."""
    seen: dict[int, float] = {}
    with cs.open(url) as store:
        watcher = store.watch(tables=["bench"], timeout=30)

        def consume():
            for change in watcher:
                seen[change.doc["i"]] = time.monotonic()
                if len(seen) == COMMITS:
                    return

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        if cross_process:
            proc = _child(WRITER, url, str(COMMITS), str(PACE))
            assert proc.stdout is not None and proc.stdin is not None
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            returned = json.loads(out.strip().splitlines()[-1])
        else:
            returned = []
            for i in range(COMMITS):
                time.sleep(random.uniform(0, PACE))
                store.insert("bench", {"i": i})
                returned.append(time.monotonic())
        reader.join(60)
    assert len(seen) == COMMITS, f"{len(seen)} of {COMMITS} changes arrived"
    return _percentiles([seen[i] - returned[i] for i in range(COMMITS)])


def idle_cpu(url: str, server_pid: int | None = None) -> dict:
    """CPU used by a watcher process (and the server, if any) while nothing happens."""
    with cs.open(url):
        pass  # the location exists before the watcher opens it
    before = _proc_cpu(server_pid) if server_pid else 0.0
    proc = _child(IDLE, url, str(IDLE_SECONDS))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    row = json.loads(out.strip().splitlines()[-1])
    server = (_proc_cpu(server_pid) - before) if server_pid else 0.0
    return {
        "watcher_cpu_pct": 100 * row["cpu"] / row["wall"],
        "server_cpu_pct": 100 * server / row["wall"] if server_pid else None,
    }


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_all(tmp: str) -> list[dict]:
    cs.register("jsonsig", _open_signalling)
    sys.path.insert(0, str(ROOT))
    from tests.support import LoopbackServer

    server = LoopbackServer(password="Bench-Pw_4411").start()
    remote = f"ws://root:Bench-Pw_4411@127.0.0.1:{server.port}/?namespace=bench"
    cases = [
        ("JSON files + inotify", f"jsonsig://{tmp}/sig", True),
        ("JSON files, poll", f"json://{tmp}/poll", True),
        ("SurrealDB server (loopback)", remote, True),
        ("surrealkv:// (writer thread)", f"surrealkv://{tmp}/kv", False),
        ("mem:// (writer thread)", "mem://", False),
    ]
    rows = []
    try:
        for label, url, cross in cases:
            row = {"backend": label, "cross_process": cross, **latency(url, cross)}
            if url != "mem://":  # a new process cannot see another's mem:// store
                pid = server.proc.pid if url.startswith("ws://") else None
                row.update(idle_cpu(url, pid))
            rows.append(row)
            print(_line(row), flush=True)
    finally:
        server.kill()
    return rows


def _line(row: dict) -> str:
    idle = row.get("watcher_cpu_pct")
    text = f"{row['backend']:<30} p50 {row['p50_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms"
    if idle is not None:
        text += f"  idle watcher CPU {idle:.2f}%"
    if row.get("server_cpu_pct") is not None:
        text += f" (+ server {row['server_cpu_pct']:.2f}%)"
    return text


def test_watch_latency_and_idle_cpu(tmp_path):
    """Prints the figures; asserts only that every commit reached the watcher."""
    rows = run_all(str(tmp_path))
    assert len(rows) == 5


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="cs-watch-bench-") as tmp:
        print(json.dumps(run_all(tmp), indent=2))
