"""Routes the gateway answers itself, in front of LiteLLM.

- /v1/models: only models some logged-in account serves, in OpenAI shape or, for Anthropic clients
  (an `anthropic-version` header or a claude-cli user agent), in Anthropic shape.
- /v1/messages/count_tokens: counted upstream with an account chosen, blocked and recorded like any
  model call (gateway/count_tokens.py; LiteLLM's route skips the hook), or estimated locally when the
  provider counts itself (Codex: the backend has no such endpoint).
- /health: liveness without touching LiteLLM.
- POST inference routes: the body's basic shape is checked first (gateway/request_shape.py), so a
  client mistake LiteLLM would crash on is a 400 in the caller's dialect, not a 500.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

from amp.http_messages import replay_receive
from custom_providers import client_request
from gateway import request_log, request_shape
from gateway.count_tokens import count_upstream
from gateway.errors import dialect_for_path, error_body
from gateway.routing import MethodRoute
from gateway.runtime import Runtime


MODELS_PATHS = ("/v1/models", "/models")
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
STARTED = int(time.time())


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}


def wants_anthropic_models(headers: dict[str, str]) -> bool:
    return "anthropic-version" in headers or headers.get("user-agent", "").startswith("claude-cli")


def _owner(rt: Runtime, provider: str) -> str:
    handler = rt.providers.get(provider)
    return handler.dialect if handler is not None else provider


def models_body(rt: Runtime, anthropic: bool) -> dict[str, Any]:
    models = rt.listed_models()
    if anthropic:
        data = [
            {
                "type": "model",
                "id": name,
                "display_name": name,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(STARTED)),
            }
            for name, _ in models
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": STARTED, "owned_by": _owner(rt, provider)}
            for name, provider in models
        ],
    }


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


class _Checked:
    """The ASGI endpoint of one inference path: its body's shape is checked before the layer behind."""

    def __init__(self, routes: "LocalRoutes", path: str) -> None:
        self.routes = routes
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.routes.checked(scope, receive, send, self.path)


class LocalRoutes:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime
        self.router = Router(routes=[
            *(MethodRoute(path, self.models, methods=["GET"]) for path in MODELS_PATHS),
            MethodRoute(COUNT_TOKENS_PATH, self.count_tokens, methods=["POST"]),
            MethodRoute("/health", self.health, methods=["GET"]),
            *(MethodRoute(path, _Checked(self, path), methods=["POST"]) for path in sorted(request_shape.CHECKED_PATHS)),
        ], redirect_slashes=False, default=app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets belong to the layers behind
            await self.app(scope, receive, send)
            return
        await self.router(scope, receive, send)

    async def models(self, request: Request) -> Response:
        self.rt.ensure_started()
        self.rt.refresh_accounts()
        return JSONResponse(models_body(self.rt, wants_anthropic_models(_headers(request.scope))))

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def checked(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """Refuse a body of the wrong shape; otherwise pass it on, parsed once for LiteLLM too."""
        raw = await _read_body(receive)
        try:
            body = request_shape.parse(raw)
            request_shape.check(path, body)
        except request_shape.ShapeError as exc:
            await JSONResponse(error_body(dialect_for_path(path), 400, str(exc)), 400)(scope, receive, send)
            return
        # the relay sends the client's own JSON (custom_providers/client_request.py): the exact bytes
        client_request.record(client_request.ClientRequest(client_request.dialect_for_path(path), _headers(scope), raw=raw))
        scope = dict(scope, parsed_body=request_shape.litellm_parsed_body(body))
        await self.app(scope, replay_receive(raw, receive), send)

    async def count_tokens(self, request: Request) -> Response:
        raw = await _read_body(request.receive)
        try:
            body = request_shape.parse(raw)
            request_shape.check(COUNT_TOKENS_PATH, body)
        except request_shape.ShapeError as exc:
            return JSONResponse(error_body("anthropic", 400, str(exc)), 400)
        model = body["model"]
        request_log.note_model(str(model))
        provider = self.rt.provider_for_model(model)
        if provider is None:
            known = ", ".join(name for name in self.rt.pool_names)
            return JSONResponse(
                error_body("anthropic", 404, f"model: {model} is not served by this gateway. Known models: {known}"),
                404,
            )
        handler = self.rt.providers[provider]
        estimate = handler.estimate_tokens(body, model)
        if estimate is not None:
            return JSONResponse({"input_tokens": estimate})
        return await count_upstream(self.rt, handler, model, body, _headers(request.scope))
