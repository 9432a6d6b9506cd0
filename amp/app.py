"""The Amp layer as one ASGI app in front of the gateway's own app.

    request ─┬─ /api/provider/{p}/(v1/)...    aliases: local /v1/... (or mapped / Amp-upstream fallback)
             ├─ management paths               503 gate → no-CORS → localhost guard → client auth → proxy
             │  (/api/internal, /actors/*...)   (HTTP reverse proxy, or WebSocket relay)
             └─ anything else                  the local app, untouched (lifespan and websockets too)

Aliases are not behind the localhost guard or the 503 gate: the gateway's client-key check covers them and
they keep working with no upstream configured.
"""

from __future__ import annotations

import logging
from typing import Callable

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from amp.aliases import AliasHandler
from amp.gates import AvailabilityGate, ClientAuth, NoCors
from amp.http_messages import send_json
from amp.localhost_guard import LocalhostGuard
from amp.model_mapping import split_suffix
from amp.proxy import UpstreamProxy, default_http_client
from amp.routes import RouteKind, classify
from amp.secret_source import AmpSecretSource, SecretSource
from amp.websocket_proxy import WebSocketProxy
from amp.settings import AmpSettings

log = logging.getLogger("amp.routing")

ErrorRenderer = Callable[[str, int, str], dict]


def _flat_error(path: str, status: int, message: str) -> dict:
    return {"error": message}


def build_amp_app(
    local_app: ASGIApp,
    *,
    settings: Callable[[], AmpSettings],
    local_models: Callable[[str], bool],
    authenticate: Callable[[Scope], str | None],
    secret_source: SecretSource | None = None,
    http_client: httpx.AsyncClient | None = None,
    error_body: ErrorRenderer | None = None,
) -> ASGIApp:
    """Wrap `local_app` with Amp's routes. `settings` is read on every request (hot reload).

    `error_body(path, status, message)` renders an error in the caller's dialect (the gateway passes its
    own renderer); without one, Amp's flat `{"error": message}` is used.
    """
    return AmpApp(
        local_app,
        settings=settings,
        local_models=local_models,
        authenticate=authenticate,
        secret_source=secret_source if secret_source is not None else AmpSecretSource(settings),
        http_client=http_client if http_client is not None else default_http_client(),
        error_body=error_body or _flat_error,
    )



class _ByProtocol:
    def __init__(self, http: ASGIApp, websocket: ASGIApp) -> None:
        self.http = http
        self.websocket = websocket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.websocket if scope["type"] == "websocket" else self.http)(scope, receive, send)


class _GeminiUpstream:
    """Old Amp builds' Vertex-style Gemini calls: no local account serves Gemini, so they spend credits."""

    def __init__(self, proxy: UpstreamProxy, settings: Callable[[], AmpSettings]) -> None:
        self.proxy = proxy
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if scope["method"] == "POST" and "/models/" in path:
            model = split_suffix(path.split("/models/", 1)[1].split(":", 1)[0])[0]
            if not self.settings().fallback_to_upstream:
                await send_json(send, 404, {"error": f"model {model!r} is not served by this gateway"})
                return
            log.warning(
                "[amp-routing] AMP_CREDITS: Gemini model %r is forwarded to the Amp upstream (spends Amp credits)",
                model,
                extra={"component": "amp-routing", "label": "AMP_CREDITS", "model": model},
            )
        await self.proxy(scope, receive, send)


class AmpApp:
    def __init__(
        self,
        local_app: ASGIApp,
        *,
        settings: Callable[[], AmpSettings],
        local_models: Callable[[str], bool],
        authenticate: Callable[[Scope], str | None],
        secret_source: SecretSource,
        http_client: httpx.AsyncClient,
        error_body: ErrorRenderer = _flat_error,
    ) -> None:
        self.local_app = local_app
        self.error_body = error_body
        proxy = UpstreamProxy(settings, secret_source, authenticate, http_client)
        self.aliases = AliasHandler(local_app, proxy, settings, local_models)

        def gated(handler: ASGIApp) -> ASGIApp:
            restricted = LocalhostGuard(
                ClientAuth(handler, authenticate), lambda: settings().restrict_management_to_localhost
            )
            return AvailabilityGate(NoCors(restricted), settings)

        self.management = gated(_ByProtocol(http=proxy, websocket=WebSocketProxy(settings)))
        self.gemini = gated(_GeminiUpstream(proxy, settings))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = classify(scope["path"]) if scope["type"] in ("http", "websocket") else None
        if route is None:
            await self.local_app(scope, receive, send)
        elif route.kind is RouteKind.MANAGEMENT:
            await self.management(scope, receive, send)
        elif route.kind is RouteKind.GEMINI_UPSTREAM:
            await self.gemini(scope, receive, send)
        elif scope["type"] != "http":
            await self.local_app(scope, receive, send)
        elif _alias_method_ok(route.kind, scope["method"]):
            await self.aliases(scope, receive, send, route)
        else:
            path = scope["path"]
            message = f"No Amp provider route for {scope['method']} {path}"
            await send_json(send, 404, self.error_body(path, 404, message))


def _alias_method_ok(kind: RouteKind, method: str) -> bool:
    if kind is RouteKind.MODELS:
        return method in ("GET", "HEAD")
    return kind is RouteKind.INFERENCE and method == "POST"
