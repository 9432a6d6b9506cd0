"""Shared pieces for the Amp tests: the fake ampcode upstream on loopback, a stub local app, the amp app.

The stub local app stands in for the gateway (LiteLLM behind it): it records what reached it after the
alias rewrite and answers like the gateway's /v1 routes would. End-to-end runs with the real gateway are
the lead's tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import httpx
import pytest

from amp import build_amp_app
from amp.proxy import default_http_client
from amp.secret_source import StaticSecretSource
from amp.settings import AmpSettings
from tests.fakes.ampcode import create_app
from tests.fakes.recorder import Recorder
from tests.servers import ServerThread

CLIENT_KEY = "client-key"
UPSTREAM_SECRET = "upstream-secret"


@dataclass
class LocalCall:
    method: str
    path: str
    raw_path: bytes
    query: bytes
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _sse(events: list[dict]) -> list[bytes]:
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]


@dataclass
class StubLocalApp:
    """The gateway's own app as the amp layer sees it. `served` are the model names it can serve."""

    served: set[str] = field(default_factory=lambda: {"claude-sonnet-4-5", "gpt-5.2"})
    content: list[dict] = field(default_factory=lambda: [{"type": "text", "text": "hi"}])
    calls: list[LocalCall] = field(default_factory=list)
    lifespan_events: list[str] = field(default_factory=list)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan_events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.calls.append(LocalCall(scope["method"], scope["path"], scope["raw_path"], scope["query_string"], headers, body))
        status, content_type, chunks = self._reply(scope["path"], headers, body)
        out_headers = [(b"content-type", content_type.encode())]
        if "event-stream" not in content_type:
            out_headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _reply(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, list[bytes]]:
        if path == "/v1/models":
            if "anthropic-version" in headers:
                doc = {"data": [{"type": "model", "id": m} for m in sorted(self.served)], "has_more": False}
            else:
                doc = {"object": "list", "data": [{"object": "model", "id": m} for m in sorted(self.served)]}
            return 200, "application/json", [json.dumps(doc).encode()]
        request = json.loads(body or b"{}")
        model = request.get("model", "")
        if model.split("(")[0] not in self.served:
            return 400, "application/json", [json.dumps({"error": {"message": f"Invalid model name {model}"}}).encode()]
        if path == "/v1/messages" and request.get("stream"):
            events = [{"type": "message_start", "message": {"id": "msg_1", "model": model, "content": []}}]
            for i, block in enumerate(self.content):
                events.append({"type": "content_block_start", "index": i, "content_block": block})
                events.append({"type": "content_block_stop", "index": i})
            events.append({"type": "message_stop"})
            return 200, "text/event-stream", _sse(events)
        if path == "/v1/messages":
            doc = {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": self.content}
        else:
            doc = {"id": "chatcmpl-1", "object": "chat.completion", "model": model, "choices": []}
        return 200, "application/json", [json.dumps(doc).encode()]


def authenticate_with(keys: set[str]) -> Callable[[dict], str | None]:
    """Like the gateway's check: Bearer, x-api-key, x-goog-api-key or ?key=; open when no keys."""

    def authenticate(scope: dict) -> str | None:
        if not keys:
            return None
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        presented = [headers.get("x-api-key"), headers.get("x-goog-api-key")]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            presented.append(auth[7:].strip())
        query = httpx.QueryParams(scope.get("query_string", b"").decode())
        presented += query.get_list("key") + query.get_list("auth_token")
        presented = [p for p in presented if p]
        if not presented:
            return "Missing API key"
        return None if any(p in keys for p in presented) else "Invalid API key"

    return authenticate


class Harness:
    """An amp app over a StubLocalApp, with settings the test can change between requests."""

    def __init__(
        self,
        upstream_url: str,
        *,
        keys: set[str] | None = None,
        secret: str = UPSTREAM_SECRET,
        own_client: bool = True,
        **amp: Any,
    ):
        self.settings = AmpSettings(upstream_url=upstream_url, **amp)
        self.local = StubLocalApp()
        # A server thread runs its own event loop: let the amp app make its client there (own_client=False).
        self.http_client = default_http_client() if own_client else None
        self.app = build_amp_app(
            self.local,
            settings=lambda: self.settings,
            local_models=lambda name: name in self.local.served,
            authenticate=authenticate_with({CLIENT_KEY} if keys is None else keys),
            secret_source=StaticSecretSource(secret),
            http_client=self.http_client,
        )

    def update(self, **changes: Any) -> None:
        self.settings = replace(self.settings, **changes)

    def client(self, peer: str = "127.0.0.1", **kwargs: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(self.app, client=(peer, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway.test", **kwargs)


@pytest.fixture(scope="module")
def upstream_server() -> tuple[str, Recorder]:
    app, recorder = create_app()
    with ServerThread(app) as server:
        yield server.url, recorder


@pytest.fixture
def upstream(upstream_server) -> tuple[str, Recorder]:
    url, recorder = upstream_server
    recorder.clear()
    return url, recorder


@pytest.fixture
async def harness(upstream):
    made: list[Harness] = []

    def make(**kwargs: Any) -> Harness:
        kwargs.setdefault("upstream_url", upstream[0])
        h = Harness(**kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        if h.http_client is not None:
            await h.http_client.aclose()


@pytest.fixture
def served_harness(upstream):
    """For tests that serve the amp app with ServerThread (SSE timing, WebSocket)."""

    def make(**kwargs: Any) -> Harness:
        kwargs.setdefault("upstream_url", upstream[0])
        return Harness(own_client=False, **kwargs)

    return make


AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}
