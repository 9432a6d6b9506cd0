"""Client keys (`gateway.api-keys`): who may use the subscriptions through this gateway.

Clients put their key wherever their SDK does: `Authorization: Bearer` (OpenAI SDK, Anthropic SDK,
Codex CLI, droid's openai provider), `x-api-key` (Claude Code, droid's anthropic provider),
`x-goog-api-key`, or `?key=` / `?auth_token=`. An empty key list means open: on a loopback bind that
is the reference system's behaviour and lets Factory's "dummy-not-used" keys work; config.py refuses
a non-loopback bind with no keys. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
import json
from typing import Callable
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import dialect_for_path, error_body

MISSING = "Missing API key"
INVALID = "Invalid API key"


def presented_keys(scope: Scope) -> list[str]:
    """Every credential the request carries, in the reference system's order.

    All of them are tried (as CLIProxyAPI does): a client may send its vendor token in one header and
    the gateway key in another, e.g. Authorization for Amp and x-api-key for the gateway.
    """
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
    out: list[str] = []
    auth = headers.get("authorization", "").strip()
    if auth:
        scheme, _, rest = auth.partition(" ")
        out.append(rest.strip() if scheme.lower() == "bearer" and rest.strip() else auth)
    for name in ("x-goog-api-key", "x-api-key"):
        if headers.get(name, "").strip():
            out.append(headers[name].strip())
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        params = parse_qsl(query, keep_blank_values=False)
        for wanted in ("key", "auth_token"):
            out.extend(value for name, value in params if name == wanted and value)
    return out


def authenticate(scope: Scope, keys: tuple[str, ...]) -> str | None:
    """None when the request may pass, else the reason (reference wording)."""
    if not keys:
        return None
    candidates = presented_keys(scope)
    if not candidates:
        return MISSING
    ok = False
    for candidate in candidates:
        for expected in keys:  # no early exit: the time taken does not say which key matched
            ok |= hmac.compare_digest(candidate.encode(), expected.encode())
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
        path = scope.get("path", "")
        body = error_body(dialect_for_path(path), 401, reason, error_type="authentication_error", code="invalid_api_key")
        if scope["type"] == "websocket":
            await _refuse_upgrade(scope, send, body, reason)
            return
        await JSONResponse(body, status_code=401)(scope, receive, send)


async def _refuse_upgrade(scope: Scope, send: Send, body: dict, reason: str) -> None:
    """A 401 answer to the upgrade where the server can send one (Codex CLI reads the status), else a
    close before accept (the client sees 403)."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008, "reason": reason})
        return
    raw = json.dumps(body).encode()
    await send({"type": "websocket.http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
    await send({"type": "websocket.http.response.body", "body": raw})
