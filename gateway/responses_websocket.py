"""Codex CLI's Responses WebSocket on `/v1/responses` and `/backend-api/codex/responses` (python -m gateway.amp).

Codex CLI opens a WebSocket for `{base_url}/responses` before it falls back to HTTP (docs/relay.md,
"Codex Responses over WebSocket"). The upgrade is accepted after the client-key check (gateway/asgi.py);
the account is chosen per turn, not per socket: for each `response.create` frame LiteLLM's Router picks
the deployment (the hook's account filter, session affinity, quota blocks, headroom) and calls this
module's per-attempt handler with it, which runs the deployment hook (the account's token, the entry's
forced effort) and starts the turn on that account's upstream WebSocket (opened once, reused by its
later turns: the backend resolves `previous_response_id` per connection). A refused upgrade, or an
error frame (401/429/5xx) before the turn's first event, raises the matching LiteLLM exception: the
hook refreshes or blocks the account and the Router fails over. From the first event on, the upstream's
frames reach the client unchanged and in order until the turn's terminal event; usage and the
`codex.rate_limits` reading are recorded from them.

Errors reach the client as the error frame Codex CLI reads as an HTTP status
(`{"type": "error", "status": 429, "error": {...}, "headers": {"retry-after": ...}}`), with the same
words and Retry-After as the HTTP routes (gateway/error_rewrite.py); the socket stays open for the
next turn, as the backend's does.

`litellm --config` does not use this module: there LiteLLM's proxy serves `/v1/responses` WebSockets
itself (docs/relay.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from custom_providers import client_request
from gateway import request_context
from gateway.error_rewrite import ErrorRewrite
from gateway.model_routes import RESPONSES, call_data, client_headers, run_pre_call_hooks
from gateway.router_setup import route_attempts
from gateway.runtime import Runtime
from gateway.usage import tokens_from

import litellm  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

log = logging.getLogger("subgate.websocket")

PATHS = frozenset({"/v1/responses", "/backend-api/codex/responses", "/responses"})
CREATE = "response.create"
TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete", "error"})
RATE_LIMITS = "codex.rate_limits"


class ResponsesWebSocket:
    """Pure ASGI layer: WebSocket scopes on PATHS are served here, everything else passes on."""

    def __init__(self, app: ASGIApp, rt: Runtime, router: Any, *, forward_headers: bool) -> None:
        self.app = app
        self.rt = rt
        self.router = router
        self.forward_headers = forward_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope.get("path") not in PATHS:
            await self.app(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        session = _Session(self, scope, send)
        try:
            await session.serve(receive)
        finally:
            await session.close()


class _Session:
    """One client socket: its upstream sockets (one per account used) and its turns, one at a time."""

    def __init__(self, owner: ResponsesWebSocket, scope: Scope, send: Send) -> None:
        self.owner = owner
        self.rt = owner.rt
        self.headers = client_headers(scope)
        self.url = f"ws://{self.headers.get('host', 'localhost')}{scope.get('path', '')}"
        self.send = send
        self.sockets: dict[str, Any] = {}  # account id -> custom_providers.codex.websocket.UpstreamSocket
        self.last: Any = None

    async def serve(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = (message.get("bytes") or b"").decode("utf-8", "replace")
            frame = _parse(raw)
            if frame.get("type") == CREATE:
                # a task per turn: its own request context (facts, attempts), as an HTTP request has
                await asyncio.ensure_future(self._turn(frame))
            elif self.last is not None and self.last.open_:
                await self.last.connection.send(raw)  # another client event: to the socket of the last turn
            else:
                await self._error(400, {"type": "invalid_request_error", "param": "type",
                                        "message": f"Unsupported event type {frame.get('type')!r}: send response.create."})

    async def _turn(self, frame: dict[str, Any]) -> None:
        facts = request_context.begin()
        body = {k: v for k, v in frame.items() if k != "type"}
        # the front layer's record of what the client sent, as for an HTTP request (gateway/local_routes.py)
        client_request.record(client_request.ClientRequest("responses", dict(self.headers), raw=json.dumps(body).encode()))
        data = call_data(RESPONSES, body, dict(self.headers), self.url, forward=self.owner.forward_headers)
        requested = str(body.get("model") or "")
        data.pop("model", None)
        attempt = _Attempt(self, frame)
        try:
            data = await run_pre_call_hooks(dict(data, model=requested), RESPONSES.call_type)
            data.pop("model", None)
            turn = await route_attempts(self.owner.router(), requested, attempt, **data)
        except Exception as exc:
            await self._failed(exc, facts)
            return
        await self._relay(turn, attempt)

    async def _relay(self, turn: Any, attempt: "_Attempt") -> None:
        from custom_providers.codex.websocket import parse, relayed

        socket = turn.socket
        self.last = socket
        pending = list(turn.pending)
        try:
            while True:
                raw = pending.pop(0) if pending else await socket.recv()
                event = parse(raw)
                attempt.observe(event)
                await self.send({"type": "websocket.send", "text": relayed(raw, turn.short_to_original)})
                if event.get("type") in TERMINAL:
                    return
        except ConnectionClosed:
            self.sockets.pop(socket.account, None)
            await self._error(502, {"type": "server_error",
                                    "message": "The Codex backend closed the WebSocket before response.completed."})
        finally:
            socket.busy = False

    async def _failed(self, exc: Exception, facts: request_context.RequestFacts) -> None:
        status = getattr(exc, "status_code", None)
        status = status if isinstance(status, int) and status >= 400 else 500
        message = str(getattr(exc, "message", None) or getattr(exc, "detail", None) or exc)
        original = {"error": {"message": message, "type": None, "code": str(status)}}
        status, body, headers = ErrorRewrite(None, self.rt).rewrite("openai", status, original, b"", facts)
        await self._error(status, body.get("error") or {"message": message}, headers)

    async def _error(self, status: int, error: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "status": status, "error": dict(error)}
        if headers:
            frame["headers"] = dict(headers)
        await self.send({"type": "websocket.send", "text": json.dumps(frame)})

    async def close(self) -> None:
        for socket in self.sockets.values():
            await socket.close()
        self.sockets.clear()


class _Attempt:
    """The per-attempt handler the Router calls with the deployment it picked (one account)."""

    def __init__(self, session: _Session, frame: dict[str, Any]) -> None:
        self.session = session
        self.frame = frame
        self.kwargs: dict[str, Any] = {}

    async def __call__(self, **kwargs: Any) -> Any:
        kwargs = await litellm.utils.async_pre_call_deployment_hook(kwargs, "responses")
        info = kwargs.get("model_info") or {}
        rt = self.session.rt
        provider = rt.providers.get(str(info.get("gw_provider") or ""))
        relay = provider.websocket_relay() if provider is not None else None
        model = str(kwargs.get("model") or "")
        if relay is None:
            raise litellm.BadRequestError(message=f"The model {model} is not served over WebSocket; use HTTP.",
                                          llm_provider=str(kwargs.get("custom_llm_provider") or ""), model=model)
        account = str(info.get("gw_account") or "")
        self.kwargs = kwargs
        try:
            frame, names = relay.frame(self.frame, model=model.split("/", 1)[-1], reasoning=kwargs.get("reasoning"))
            socket = self.session.sockets.get(account)
            if socket is None or not socket.open_:
                headers = relay.headers(self.session.headers, kwargs.get("headers") or {},
                                        kwargs.get("extra_headers") or {}, token=str(kwargs.get("api_key") or ""))
                socket = await relay.open(relay.url(kwargs.get("api_base")), headers, account)
                self.session.sockets[account] = socket
            socket.busy = True
            try:
                return await socket.start(frame, names)
            except Exception as exc:
                socket.busy = False
                if not socket.open_ or getattr(exc, "status_code", None) == 401:
                    # a socket's token is the one of its upgrade: after a 401 the retry opens a new one
                    self.session.sockets.pop(account, None)
                    await socket.close()
                raise
        except Exception as exc:
            await litellm.utils.async_post_call_failure_deployment_hook(kwargs, exc, "responses")
            raise

    def observe(self, event: Mapping[str, Any]) -> None:
        """Usage and the usage windows from the relayed events, for this turn's account."""
        from custom_providers.codex.websocket import rate_limit_headers

        info = self.kwargs.get("model_info") or {}
        account = str(info.get("gw_account") or "")
        if not account:
            return
        rt = self.session.rt
        provider = str(info.get("gw_provider") or "")
        kind = event.get("type")
        if kind == RATE_LIMITS:
            rt.headroom.observe(account, provider, rate_limit_headers(event))
        elif kind == "response.completed":
            acct = rt.store.get(account)
            model = str((self.kwargs.get("litellm_metadata") or {}).get("model_group") or self.frame.get("model") or "")
            rt.usage.record_success(account, acct.email if acct else "", provider, model, tokens_from(event))
            if rt.quota.has_blocks():
                rt.quota.clear(account, label=acct.email if acct else account)


def _parse(raw: str) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        value = json.loads(raw)
        if isinstance(value, dict):
            return value
    return {}
