"""Client keys (`gateway.api-keys`): who may use the subscriptions through this gateway.

Clients put their key wherever their SDK does: `Authorization: Bearer` (OpenAI SDK, Anthropic SDK,
Codex CLI, droid's openai provider), `x-api-key` (Claude Code, droid's anthropic provider),
`x-goog-api-key`, or `?key=` / `?auth_token=`. An empty key list means open: on a loopback bind that
is the reference system's behaviour and lets Factory's "dummy-not-used" keys work; config.py refuses
a non-loopback bind with no keys. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Callable
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import dialect_for_path, error_body

MISSING = "Missing API key"
INVALID = "Invalid API key"


def presented_key(scope: Scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
    auth = headers.get("authorization", "").strip()
    if auth:
        scheme, _, rest = auth.partition(" ")
        return rest.strip() if scheme.lower() == "bearer" and rest else auth
    for name in ("x-api-key", "x-goog-api-key"):
        if headers.get(name, "").strip():
            return headers[name].strip()
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        for name, value in parse_qsl(query, keep_blank_values=False):
            if name in ("key", "auth_token") and value:
                return value
    return None


def authenticate(scope: Scope, keys: tuple[str, ...]) -> str | None:
    """None when the request may pass, else the reason (reference wording)."""
    if not keys:
        return None
    key = presented_key(scope)
    if not key:
        return MISSING
    candidate = key.encode()
    ok = False
    for expected in keys:  # no early exit: the time taken does not say which key matched
        ok |= hmac.compare_digest(candidate, expected.encode())
    return None if ok else INVALID


class ClientKeyCheck:
    """Pure ASGI: refuses HTTP and WebSocket requests without a valid key, in the caller's dialect."""

    def __init__(self, app: ASGIApp, keys: Callable[[], tuple[str, ...]], exempt: Callable[[str], bool]) -> None:
        self.app = app
        self.keys = keys
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.exempt(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        reason = authenticate(scope, self.keys())
        if reason is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
            return
        path = scope.get("path", "")
        body = error_body(dialect_for_path(path), 401, reason, error_type="authentication_error", code="invalid_api_key")
        await JSONResponse(body, status_code=401)(scope, receive, send)
