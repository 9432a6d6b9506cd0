"""The four vendor stand-ins on one loopback port, served by uvicorn from a background thread.

A thread with its own event loop rather than routes inside the gateway's server: the gateway then
reaches its upstreams over real sockets exactly as it does in production, nothing the gateway does on
its own loop can stall the upstream it is waiting for, and the fakes' OAuth endpoints are not exposed
on the gateway's port. Each fake sits under a path prefix because their routes collide (both OAuth
servers serve /oauth/authorize).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import uvicorn

from gateway.demo.fakes.anthropic_api import AnthropicFake
from gateway.demo.fakes.claude_oauth import ClaudeOAuthFake
from gateway.demo.fakes.codex_backend import CodexBackendFake
from gateway.demo.fakes.openai_oauth import OpenAIOAuthFake
from gateway.demo.fakes.tokens import TokenBook

# Access tokens outlive the gateway's proactive-refresh leads (4 h Claude, 5 days Codex), so a fresh
# demo serves without refreshing first; a demo left running for hours refreshes against the fakes.
CLAUDE_ACCESS_TTL = 8 * 3600
CODEX_ACCESS_TTL = 10 * 86400
# The fakes record every request for tests to inspect; a demo keeps only the newest few.
KEEP_REQUESTS = 100

Scope = dict[str, Any]


class DemoUpstreams:
    """`DemoUpstreams().start()`, then `env()` is what points the gateway at it; `stop()` at exit."""

    def __init__(self) -> None:
        self.claude_book = TokenBook(access_ttl=CLAUDE_ACCESS_TTL)
        self.codex_book = TokenBook(access_prefix="codex-at-", refresh_prefix="codex-rt-", access_ttl=CODEX_ACCESS_TTL)
        # The Messages fake stays strict (Claude Code identity required): adding it is the gateway's job.
        self.claude_api = AnthropicFake(self.claude_book)
        self.claude_oauth = ClaudeOAuthFake(self.claude_book, approve_email="claude-demo3@example.com",
                                            organization_name="Demo Organization")
        self.codex_api = CodexBackendFake(self.codex_book)
        self.codex_oauth = OpenAIOAuthFake(self.codex_book, approve_email="codex-demo3@example.com")
        for fake in (self.claude_api, self.claude_oauth, self.codex_api, self.codex_oauth):
            fake.recorder.keep_last = KEEP_REQUESTS
        self._mounts: tuple[tuple[str, Any], ...] = (
            ("/anthropic", self.claude_api.app),
            ("/claude-oauth", self.claude_oauth.app),
            ("/codex", self.codex_api.app),
            ("/openai-oauth", self.codex_oauth.app),
        )
        self.app = self._asgi_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def _asgi_app(self) -> Any:
        """Route by prefix and hand each fake the path it would see as its own host's.

        A plain coroutine function, not a bound method: uvicorn reads a bound method as ASGI 2."""
        mounts = self._mounts

        async def app(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            path = scope["path"]
            for prefix, target in mounts:
                if path == prefix or path.startswith(prefix + "/"):
                    rest = path[len(prefix):] or "/"
                    return await target({**scope, "path": rest, "raw_path": rest.encode()}, receive, send)
            body = json.dumps({"detail": f"the demo upstreams do not serve {path}"}).encode()
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})

        return app

    def start(self, timeout: float = 30) -> "DemoUpstreams":
        # The socket is bound here, before the thread starts, so the port cannot be taken in between.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        # h11: the fakes' connection-cut modes need its transport; lifespan off: the fakes have none.
        # timeout_keep_alive: longer than the gateway's connection pool keeps an idle connection (15 s), as
        # real upstreams do, so a pooled connection is never closed under a request.
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", http="h11", access_log=False,
                                timeout_keep_alive=75)
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                                        name="subgate-demo-upstreams", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the demo upstreams did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def env(self) -> dict[str, str]:
        """SUBGATE_* overrides for every upstream URL the gateway could contact; Amp's upstream is off.

        The Codex device-flow verification page and redirect URI are left alone: the gateway only shows
        the first to a person and sends the second as a string, it never connects to either."""
        claude_oauth, openai_oauth = self.url + "/claude-oauth", self.url + "/openai-oauth"
        return {
            "SUBGATE_CLAUDE_API_BASE": self.url + "/anthropic",
            "SUBGATE_CLAUDE_TOKEN_URL": claude_oauth + "/v1/oauth/token",
            "SUBGATE_CLAUDE_AUTHORIZE_URL": claude_oauth + "/oauth/authorize",
            "SUBGATE_CLAUDE_PROFILE_URL": claude_oauth + "/api/oauth/profile",
            "SUBGATE_CODEX_API_BASE": self.url + "/codex/backend-api/codex",
            "SUBGATE_CODEX_TOKEN_URL": openai_oauth + "/oauth/token",
            "SUBGATE_CODEX_AUTHORIZE_URL": openai_oauth + "/oauth/authorize",
            "SUBGATE_CODEX_DEVICE_USERCODE_URL": openai_oauth + "/api/accounts/deviceauth/usercode",
            "SUBGATE_CODEX_DEVICE_TOKEN_URL": openai_oauth + "/api/accounts/deviceauth/token",
            "SUBGATE_AMP_UPSTREAM_URL": "",
        }
