"""Test support: a loopback SurrealDB server in a subprocess (see loopback_server.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class LoopbackServer:
    """``python -m tests.support.loopback_server`` as a subprocess: start, stop, kill, restart."""

    def __init__(
        self,
        data: str | os.PathLike | None = None,
        user: str = "root",
        password: str = "secret",
        port: int = 0,
    ) -> None:
        self.data = None if data is None else str(data)
        self.user = user
        self.password = password
        self.port = port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "LoopbackServer":
        cmd = [
            sys.executable,
            "-m",
            "tests.support.loopback_server",
            "--port",
            str(self.port),
            "--user",
            self.user,
            "--pass",
            self.password,
        ]
        if self.data:
            cmd += ["--data", self.data]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line: list[str] = []
        reader = threading.Thread(
            target=lambda: line.append(self.proc.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("PORT "):
            err = ""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()
            self.kill()
            raise RuntimeError(f"loopback server did not start: {line!r} {err[-2000:]}")
        self.port = int(line[0].split()[1])
        return self

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.loads(r.read())

    def stats(self) -> dict:
        return self._get("/stats")

    def control(self, **hooks) -> dict:
        query = "&".join(f"{k}={v}" for k, v in hooks.items())
        return self._get(f"/control?{query}")

    def drop_connections(self) -> int:
        """Reset every open client connection now; returns how many there were."""
        return self.control(drop="all")["dropped"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_pipes()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.proc:
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe:
                    pipe.close()

    def restart(self) -> "LoopbackServer":
        """Kill and start again on the same port with the same data (poll until it listens)."""
        self.kill()
        deadline = time.monotonic() + 20
        while True:
            try:
                return self.start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()
