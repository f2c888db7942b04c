"""The machine a run measured: CPU, memory, disk, load, versions."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import tempfile
from typing import Any


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


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"sqlite": sqlite3.sqlite_version}
    for dist in ("conductor-store", "surrealdb", "tinydb", "click", "pytest-benchmark"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def machine_info(path: str | None = None) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "cpu": _cpu(),
        "ram_gb": _ram_gb(),
        "disk": _disk(path or tempfile.gettempdir()),
        "load_before": loadavg(),
        "versions": _versions(),
    }
