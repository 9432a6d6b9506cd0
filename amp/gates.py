"""The checks in front of Amp's proxied routes, as pure ASGI pieces (order in app.py).

- AvailabilityGate: no upstream configured -> 503, before anything else (routes exist from startup, so an
  upstream added later works without a restart).
- NoCors: these routes are for the Amp CLI, not for web pages: OPTIONS -> 403, and the upstream's
  Access-Control-Allow-* headers are removed.
- ClientAuth: the gateway's client key, except for pages a browser opens.
"""

from __future__ import annotations

from typing import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amp.http_messages import refuse_websocket, send_empty, send_json
from amp.proxy import upstream_base
from amp.routes import is_browser_page
from amp.settings import AmpSettings
from amp.errors import amp_auth_error_body, amp_unavailable_body


class AvailabilityGate:
    def __init__(self, app: ASGIApp, settings: Callable[[], AmpSettings]) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if upstream_base(self.settings()) is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await refuse_websocket(receive, send)
        else:
            await send_json(send, 503, amp_unavailable_body())


class NoCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send_empty(send, 403)
            return

        async def send_without_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                kept = [(k, v) for k, v in headers if not k.lower().startswith(b"access-control-allow-")]
                message = {**message, "headers": kept}
            await send(message)

        await self.app(scope, receive, send_without_cors)


class ClientAuth:
    """401 {"error": msg} unless `authenticate(scope)` accepts the request.

    WebSocket upgrades pass without a client key: the Amp CLI opens /actors/... with its upstream token in
    Sec-WebSocket-Protocol and no Authorization, and the relay injects no upstream secret, so nothing of the
    user's is exposed (the localhost guard still applies).
    """

    def __init__(self, app: ASGIApp, authenticate: Callable[[Scope], str | None]) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_browser_page(scope["path"]):
            error = self.authenticate(scope)
            if error is not None:
                await send_json(send, 401, amp_auth_error_body(error))
                return
        await self.app(scope, receive, send)
