"""Under `litellm --config`: Codex CLI's Responses WebSocket is refused with 426, so Codex uses HTTP at once.

The Responses WebSocket relay is served by the gateway's own entry only (`python -m gateway.amp`,
gateway/responses_websocket.py). LiteLLM's proxy has a `/v1/responses` WebSocket of its own, but for
`chatgpt/` deployments it fails on the first frame (an error frame without a status, then a close), and
Codex CLI treats that as a stream error it retries five times before it falls back to HTTP
(docs/relay.md). Codex CLI falls back at once, for the rest of the session, when the upgrade is
answered 426 (`core/src/client.rs`: UPGRADE_REQUIRED -> FallbackToHttp). This layer, put outermost
around the proxy app by gateway/startup.py, answers that for the Responses paths. A client that names
a model in the query (`?model=`) which no subscription pool serves keeps LiteLLM's own WebSocket.
"""

from __future__ import annotations

import json
from typing import Callable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

PATHS = frozenset({"/v1/responses", "/responses"})
MESSAGE = ("Responses over WebSocket is served by `python -m gateway.amp` only; "
           "under `litellm --config` use HTTP POST /v1/responses.")


class RefuseResponsesWebSocket:
    def __init__(self, app: ASGIApp, is_subscription_model: Callable[[str], bool]) -> None:
        self.app = app
        self.is_subscription_model = is_subscription_model

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope.get("path") not in PATHS:
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        model = (query.get("model") or [""])[0]
        if model and not self.is_subscription_model(model):
            await self.app(scope, receive, send)
            return
        await receive()  # websocket.connect
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": 1008, "reason": "use HTTP"})
            return
        body = json.dumps({"error": {"message": MESSAGE, "type": "invalid_request_error",
                                     "code": "upgrade_required", "param": None}}).encode()
        await send({"type": "websocket.http.response.start", "status": 426,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
