"""Child processes the harness starts: environment, timing, last lines of errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def child_env(root: str, **extra: str | None) -> dict[str, str]:
    """Bytecode caching on, as users have it (``PYTHONDONTWRITEBYTECODE`` would make every
    cold start compile the package), cached in a private directory so the source tree is left
    alone. URLs and jobs go through the environment, so that no password shows in ``ps``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(root, "pycache")
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def run_timed(cmd: list[str], cwd: str, timeout: float = 120, url: str | None = None) -> float:
    """Wall time of one process; ``RuntimeError`` with its last line if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(cwd, CONDUCTOR_BENCH_URL=url),
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {last_line(proc.stderr or proc.stdout)}")
    return elapsed


def last_line(text: str | None) -> str:
    lines = [x for x in (text or "").strip().splitlines() if x.strip()]
    return lines[-1][:300] if lines else "(no output)"


def help_command() -> list[str]:
    """The installed ``conductor-store`` console script next to this interpreter."""
    name = "conductor-store.exe" if os.name == "nt" else "conductor-store"
    exe = Path(sys.executable).parent / name
    if exe.exists():
        return [str(exe), "--help"]
    found = shutil.which("conductor-store")
    if found:
        return [found, "--help"]
    return [sys.executable, "-m", "conductor_store.cli", "--help"]
