"""Amp's provider aliases, served by the gateway's own routes in-process (no second HTTP hop).

`/api/provider/{provider}/(v1/)...` is rewritten onto `/v1/...` of the local app. Inference routing is by
model name, not by the {provider} segment; the segment only picks the models-list shape. A model no local
account serves may be mapped to one that is, or fall back to the Amp upstream (spending Amp credits,
logged with the model name so users see where credits go).

A local request takes the same path as a client calling /v1/... directly: the provider it is routed to
applies its own rules (Claude's unsupported betas and thinking signatures: custom_providers/claude/shaping.py).
"""

from __future__ import annotations

import json
import logging
from typing import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from amp.http_messages import ClientGone, Headers, header, read_body, replay_receive, with_header, without_headers
from amp.model_mapping import choose_route
from amp.proxy import UpstreamProxy, upstream_base
from amp.request_sanitizer import sanitize_request
from amp.response_rewriter import RewriteRules, RewritingSend, declared_tool_names
from amp.routes import Route, RouteKind
from amp.settings import AmpSettings

log = logging.getLogger("amp.routing")

ANTHROPIC_VERSION = b"2023-06-01"


def local_scope(scope: Scope, local_path: str, headers: Headers) -> Scope:
    """The same request addressed to the gateway's own route (query string kept)."""
    return {**scope, "path": local_path, "raw_path": local_path.encode(), "headers": headers}


class AliasHandler:
    def __init__(
        self,
        local_app: ASGIApp,
        proxy: UpstreamProxy,
        settings: Callable[[], AmpSettings],
        local_models: Callable[[str], bool],
    ) -> None:
        self.local_app = local_app
        self.proxy = proxy
        self.settings = settings
        self.local_models = local_models

    async def models(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        """The gateway's /v1/models answers in Anthropic shape when anthropic-version is present."""
        version = ANTHROPIC_VERSION if route.provider == "anthropic" else None
        if version and header(scope["headers"], b"anthropic-version"):
            version = header(scope["headers"], b"anthropic-version")
        headers = with_header(scope["headers"], b"anthropic-version", version)
        await self.local_app(local_scope(scope, route.local_path, headers), receive, send)

    async def inference(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        try:
            body = await read_body(receive)
        except ClientGone:
            return
        request = _json_object(body)
        if request is not None and sanitize_request(request):
            body = _dump(request)
        model = request.get("model") if request is not None else None
        if not isinstance(model, str) or not model:
            await self._serve_locally(scope, receive, send, route, body, rules=None)
            return

        settings = self.settings()
        choice = choose_route(
            model, settings, self.local_models, upstream_available=upstream_base(settings) is not None
        )
        if choice.kind == "upstream":
            log.warning(
                "[amp-routing] AMP_CREDITS: no local account serves model %r; forwarding %s to the Amp upstream "
                "(spends Amp credits). Add an amp model-mappings entry to serve it from a subscription.",
                model,
                scope["path"],
                extra={"component": "amp-routing", "label": "AMP_CREDITS", "model": model},
            )
            await self.proxy.forward(scope, receive, send, body=body)
            return
        if choice.kind == "mapped":
            log.info(
                "[amp-routing] MODEL_MAPPING: %r -> %r",
                model,
                choice.model,
                extra={"component": "amp-routing", "label": "MODEL_MAPPING", "model": model},
            )
            assert request is not None
            request["model"] = choice.model
            body = _dump(request)
        elif choice.kind == "no_provider":
            log.info(
                "[amp-routing] NO_PROVIDER: no local account serves model %r and no upstream fallback; serving locally",
                model,
                extra={"component": "amp-routing", "label": "NO_PROVIDER", "model": model},
            )
        else:
            log.debug(
                "[amp-routing] LOCAL_PROVIDER: %r", model, extra={"component": "amp-routing", "label": "LOCAL_PROVIDER"}
            )
        rules = RewriteRules(
            original_model=model,
            tool_names=declared_tool_names(request),
            suppress_thinking=choice.kind == "mapped",
        )
        await self._serve_locally(scope, receive, send, route, body, rules=rules)

    async def _serve_locally(
        self, scope: Scope, receive: Receive, send: Send, route: Route, body: bytes, *, rules: RewriteRules | None
    ) -> None:
        headers = without_headers(scope["headers"], [b"transfer-encoding"])
        headers = with_header(headers, b"content-length", str(len(body)).encode())
        local_send = RewritingSend(send, rules) if rules is not None else send
        await self.local_app(local_scope(scope, route.local_path, headers), replay_receive(body, receive), local_send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        if route.kind is RouteKind.MODELS:
            await self.models(scope, receive, send, route)
        else:
            await self.inference(scope, receive, send, route)


def _json_object(body: bytes) -> dict | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _dump(request: dict) -> bytes:
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
