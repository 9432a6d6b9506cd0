"""Serve an ASGI app on a free loopback port from a background thread (httpx's TestServer pattern).

End-to-end tests need real sockets: the official SDKs, the gateway's own httpx clients and LiteLLM
all talk HTTP, and the fakes must behave like remote services (connection cuts included).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s; nothing when it already ended."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class ServerThread:
    """`with ServerThread(app) as srv: srv.url` -- started on enter, stopped on exit."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **uvicorn_kwargs: Any) -> None:
        self.host = host
        self.port = port or free_port(host)
        # Real upstreams keep an idle connection open longer than LiteLLM's aiohttp pool keeps it (15 s);
        # uvicorn's 5 s default closed pooled connections under the client, which then failed a request
        # with "Can not write request body" on a loaded machine.
        kwargs = {"log_level": "warning", "lifespan": "off", "ws": "websockets-sansio", "http": "h11",
                  "timeout_keep_alive": 75}
        kwargs.update(uvicorn_kwargs)
        self.config = uvicorn.Config(app, host=host, port=self.port, **kwargs)
        self.server = uvicorn.Server(self.config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} failed to start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start in 30 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
