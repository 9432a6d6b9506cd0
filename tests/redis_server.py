"""A real redis-server (Debian's package) on a free loopback port, started and stopped by the tests.

Never the system service: each server gets its own port, a temporary directory and no persistence
(`--save ""`), so tests running side by side never share data. `stop()` and `start()` keep the port,
which is how the outage tests take Redis away mid-run and bring it back.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.servers import free_port, stop_process


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        pytest.fail("redis-server is not installed: `apt-get install -y redis-server` (.ci/run installs it), "
                    "or leave these tests out with `-m 'not redis'`")
    return found


class RedisServer:
    def __init__(self, workdir: Path, *, persist: bool = False) -> None:
        self.workdir = workdir
        self.persist = persist  # append-only file, as a deployment keeps it: data survives a restart
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> "RedisServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always",
             "--dir", str(self.workdir), "--daemonize", "no", "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer in time")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> bytes:
        """One raw command (FLUSHALL between tests); the reply's first line."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(payload.encode())
            return s.recv(65536)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
