"""One concurrent writer process (internal: started by :mod:`.measure.concurrency`, not a
command line). Its job is JSON in ``$CONDUCTOR_BENCH_JOB``: an engine spec, an id prefix, the
seconds to write for and how many threads write (``threads``, default 1; they share the one
engine). Protocol on stdio: prints ``ready`` once open, waits for a line, inserts for
``seconds``, prints ``{"t0", "t1", "count"}``."""

from __future__ import annotations

import json
import os
import sys
import threading
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
    counts = [0] * int(job.get("threads", 1))
    t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    end = t0 + seconds

    def write(k: int) -> None:
        count = 0
        while True:
            eng.insert(f"{prefix}t{k}-{count:07d}", make_doc(count))
            count += 1
            if time.perf_counter() >= end:
                break
        counts[k] = count

    threads = [threading.Thread(target=write, args=(k,)) for k in range(1, len(counts))]
    for t in threads:
        t.start()
    write(0)
    for t in threads:
        t.join()
    t1 = time.perf_counter()
    eng.close()
    print(json.dumps({"t0": t0, "t1": t1, "count": sum(counts)}), flush=True)


if __name__ == "__main__":
    main()
