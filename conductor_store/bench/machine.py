"""The machine a run measured: CPU, memory, disk, load, versions."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from typing import Any

PROBE_FILES, PROBE_ROUNDS = 200, 5


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        return round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        return None


def _disk(path: str) -> dict[str, str] | None:
    try:
        out = subprocess.run(["df", "-T", path], capture_output=True, text=True, timeout=10)
        fields = out.stdout.splitlines()[-1].split()
        return {"device": fields[0], "filesystem": fields[1], "mount": fields[-1], "path": path}
    except Exception:  # noqa: BLE001
        return None


def file_create_us(directory: str) -> tuple[float, float]:
    """(wall, kernel CPU) µs to create and close one new empty file: :data:`PROBE_FILES`
    files in a fresh folder of ``directory`` (as a store's table folder is), median of
    :data:`PROBE_ROUNDS` rounds. On ext4 this differs ~50× between directories of one disk
    (block-group placement), and a JSON commit creates files: readers should see it."""
    walls, kernel = [], []
    for _ in range(PROBE_ROUNDS):
        folder = tempfile.mkdtemp(prefix="probe-", dir=directory)
        try:
            t0, s0 = time.perf_counter(), _kernel_seconds()
            for k in range(PROBE_FILES):
                os.close(os.open(os.path.join(folder, f"{k}.json"), os.O_WRONLY | os.O_CREAT))
            walls.append(time.perf_counter() - t0)
            kernel.append(_kernel_seconds() - s0)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    per = 1e6 / PROBE_FILES
    return statistics.median(walls) * per, statistics.median(kernel) * per


def _kernel_seconds() -> float:
    """This process's kernel CPU time (``getrusage``: µs resolution; ``os.times``: ticks)."""
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_stime
    except ImportError:  # pragma: no cover - Windows
        return os.times().system


def _run_dir(path: str) -> dict[str, Any]:
    """The run's directory: its filesystem (``df -T``) and the file-creation probe."""
    disk: dict[str, Any] = _disk(path) or {"path": path}
    try:
        disk["file_create_us"], disk["file_create_kernel_us"] = file_create_us(path)
    except OSError as exc:
        disk["file_create_error"] = str(exc)
    return disk


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"sqlite": sqlite3.sqlite_version}
    for dist in ("conductor-store", "surrealdb", "tinydb", "click", "pytest-benchmark"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def machine_info(path: str) -> dict[str, Any]:
    """``path``: the run's directory, where every store and raw-engine file goes."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "cpu": _cpu(),
        "ram_gb": _ram_gb(),
        "disk": _run_dir(path),
        "load_before": loadavg(),
        "versions": _versions(),
    }
