"""One concurrent writer process (internal: started by :mod:`.measure.concurrency`, not a
command line). Its job is JSON in ``$CONDUCTOR_BENCH_JOB``: an engine spec, an id prefix and
the seconds to write for. Protocol on stdio: prints ``ready`` once open, waits for a line,
inserts for ``seconds``, prints ``{"t0", "t1", "count"}``."""

from __future__ import annotations

import json
import os
import sys
import time

from .data import make_doc
from .engines import engine_from_spec


def main() -> None:
    job = json.loads(os.environ["CONDUCTOR_BENCH_JOB"])
    eng = engine_from_spec(job)
    eng.open()
    print("ready", flush=True)
    sys.stdin.readline()
    prefix, seconds = job["prefix"], float(job["seconds"])
    count = 0
    t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    end = t0 + seconds
    while True:
        eng.insert(f"{prefix}-{count:07d}", make_doc(count))
        count += 1
        if time.perf_counter() >= end:
            break
    t1 = time.perf_counter()
    eng.close()
    print(json.dumps({"t0": t0, "t1": t1, "count": count}), flush=True)


if __name__ == "__main__":
    main()
