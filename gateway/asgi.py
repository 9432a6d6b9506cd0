"""Composition of the one-port server, outermost first:

    request log ─► drain ─► body limit ─► operator routes ─► client keys ─► usage screens ─► Amp routes
    ─► Responses WebSocket ─► Codex-native alias ─► local routes ─► error rewrite ─► model routes (LiteLLM's Router,
    gateway/model_routes.py)

The request log is outermost so every answer (a refused key included) gets one access line; the
operator routes (/v0/management, /metrics, /ui) sit before the client-key check: they have their
own rules (gateway/management_auth.py).

Each layer is a pure ASGI callable (no BaseHTTPMiddleware: it would buffer SSE and break contextvars).
The Router is built from the YAML before serving (gateway/router_setup.py); at start-up the gateway
gives it one deployment per account. LiteLLM's proxy server is not imported on this entry.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import drain, heap
from gateway.body_limit import BodyLimit
from gateway.drain import Drain
from gateway.client_keys import ClientKeyCheck, authenticate
from gateway.error_rewrite import ErrorRewrite
from gateway.errors import dialect_for_path, error_body
from gateway.local_routes import LocalRoutes
from gateway.management_api import OperatorRoutes
from gateway.request_log import RequestLog
from gateway.runtime import Runtime
from gateway.usage_screens import UsageScreens

log = logging.getLogger("subgate")

CODEX_NATIVE_PATHS = {"/backend-api/codex/responses": "/v1/responses", "/responses": "/v1/responses"}


class CodexNativeAlias:
    """Codex CLI pointed at the gateway as its ChatGPT base URL posts to /backend-api/codex/responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = CODEX_NATIVE_PATHS.get(scope.get("path", ""))
            if target is not None:
                scope = dict(scope, path=target, raw_path=target.encode())
        await self.app(scope, receive, send)


class ModelApiOnly:
    """Only the model APIs are reachable through the gateway: any other path answers 404 here."""

    PREFIXES = ("/v1/", "/chat/completions", "/completions", "/responses", "/messages", "/models", "/health")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("path", "").startswith(self.PREFIXES):
            from starlette.responses import JSONResponse

            path = scope.get("path", "")
            text = f"No route {path} on this gateway."
            if path in ("/", ""):
                text = ("This is the subgate gateway: the OpenAI and Anthropic APIs are under /v1 "
                        "(/v1/chat/completions, /v1/responses, /v1/messages, /v1/models); the status page is /ui.")
            body = error_body("openai", 404, text, code="not_found")
            await JSONResponse(body, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class AfterStartup:
    """Answers the lifespan itself: the router sync once before traffic arrives, the runtime closed at the end.

    The model routes call LiteLLM's Router directly (gateway/model_routes.py), so no inner app has a
    start-up of its own to wait for.
    """

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.rt.start()
                    self.rt.sync_router()
                    self.rt.ensure_started()
                    heap.freeze_startup_objects()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.rt.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _amp_layer(inner: ASGIApp, rt: Runtime) -> tuple[ASGIApp, Any]:
    from amp import build_amp_app, is_management_path

    app = build_amp_app(
        inner,
        settings=lambda: rt.settings.amp,
        local_models=rt.serves,
        authenticate=lambda scope: authenticate(scope, rt.settings.api_keys),
        error_body=lambda path, status, message: error_body(dialect_for_path(path), status, message),
    )
    return app, is_management_path


def build_app(rt: Runtime, model_routes: ASGIApp) -> ASGIApp:
    app: ASGIApp = ErrorRewrite(ModelApiOnly(model_routes), rt)
    app = LocalRoutes(app, rt)
    app = CodexNativeAlias(app)
    router = getattr(model_routes, "router", None)
    if router is not None:  # Codex CLI's Responses WebSocket (gateway/responses_websocket.py)
        from gateway.responses_websocket import ResponsesWebSocket

        app = ResponsesWebSocket(app, rt, router, forward_headers=bool(getattr(model_routes, "forward_headers", False)))
    app, amp_exempt = _amp_layer(app, rt)
    # /health is liveness for service managers and load balancers; it reveals nothing.
    app = ClientKeyCheck(app, lambda: rt.settings.api_keys, lambda path: path == "/health" or amp_exempt(path))
    # Outside the key check (the clients send their own upstream token there: it checks keys for
    # non-loopback callers itself) and before the Amp routes (/api/codex/usage is Codex's, not ampcode.com's).
    app = UsageScreens(app, rt, lambda: rt.settings.api_keys)
    app = OperatorRoutes(app, rt)
    app = BodyLimit(app, lambda: rt.settings.max_body_mb)
    app = drain.active = Drain(app, on_stopped=drain.record_stopped(rt))
    app = RequestLog(app)
    return AfterStartup(app, rt)
