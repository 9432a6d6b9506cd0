"""The real gateway (`python -m gateway.amp`) as a subprocess on a free loopback port.

End-to-end tests drive it with the official SDKs exactly as a user would; every upstream URL points
at a fake served by the test process, and the log goes to a file that tests can grep for secrets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

import httpx

from tests.servers import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent


class GatewayProcess:
    def __init__(self, env: Mapping[str, str], *, log_path: Path, config: Path | None = None, port: int | None = None,
                 args: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, **env, "SUBGATE_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        if config is not None:
            self.env["SUBGATE_CONFIG"] = str(config)
        self.args = args or []
        self.proc: subprocess.Popen | None = None
        self.startup_seconds = 0.0

    def start(self, timeout: float = 180) -> "GatewayProcess":  # a loaded 2-core CI box needs >60 s
        t0 = time.monotonic()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.amp", *self.args], cwd=ROOT, env=self.env,
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    # LiteLLM's startup (router build) completes before uvicorn accepts traffic.
                    self.startup_seconds = time.monotonic() - t0
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway did not start in {timeout} s:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        stop_process(self.proc)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> "GatewayProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
