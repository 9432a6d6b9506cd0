"""A strict fake of the Codex backend's Responses WebSocket (`wss://chatgpt.com/backend-api/codex/responses`).

Codex CLI (0.169.0, codex-rs/codex-api/src/endpoint/responses_websocket.rs) opens this socket with the
same headers as an HTTP call plus `OpenAI-Beta: responses_websockets=2026-02-06`, then sends one JSON text
frame per turn, `{"type": "response.create", ...the Responses body...}`, and reads back one JSON text
frame per event: the same `response.*` events as the SSE stream (plus WebSocket-only ones such as
`codex.rate_limits`). The upgrade's token is checked again for every frame (an expired one answers
401). A failed request is an `error` frame carrying the HTTP status
(`{"type": "error", "status": 429, "error": {...}, "headers": {...}}`), after which the socket stays
open. Within one connection `store: false` still allows `previous_response_id`: the backend keeps the
connection's own responses, so a later turn may send only its new items (a response of another
connection is not found).

It shares the HTTP fake's token book, usage meter, reasoning seals, reply modes and refusal rules
(gateway/demo/fakes/codex_backend.py, codex_rules.py), and refuses the upgrade itself (HTTP status,
before the 101) when the token, `ChatGPT-Account-Id` or the beta header is wrong. Extra reply modes:

    {"mode": "refuse_upgrade", "status": 503}   # the handshake answered with that status
    {"unknown_event": True}                     # an event type nobody knows, after response.created
    {"mode": "cut_before"} / {"mode": "cut_after", "events": 3}   # the socket closed (no close frame)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from gateway.demo.fakes import codex_rules
from gateway.demo.fakes.codex_wham import auth_error
from gateway.demo.fakes.recorder import Recorded, Recorder
from gateway.demo.fakes.tokens import TokenStatus
from gateway.demo.fakes.usage_meter import codex_headers

if TYPE_CHECKING:
    from gateway.demo.fakes.codex_backend import CodexBackendFake

PATH = "/backend-api/codex/responses"
BETA = "responses_websockets=2026-02-06"
UNKNOWN_EVENT = "response.subgate_fake_unknown"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class CodexWebSocketFake:
    """The WebSocket side of one CodexBackendFake (served on the same port, so the same api_base)."""

    def __init__(self, backend: "CodexBackendFake") -> None:
        self.backend = backend
        self.recorder = Recorder()  # method "GET" = a handshake, "WS" = one frame the client sent

    def handshakes(self) -> list[Recorded]:
        return [r for r in self.recorder.requests if r.method == "GET"]

    def frames(self) -> list[dict[str, Any]]:
        """The frames the clients sent, parsed, oldest first."""
        return [r.json() for r in self.recorder.requests if r.method == "WS"]

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        item = Recorded("GET", scope["path"], scope.get("query_string", b"").decode(), headers, b"")
        self.recorder.record(item)
        if scope["path"] != PATH:
            return await _deny(scope, send, 404, {"detail": "Not Found"})
        status, grant = self.backend.book.check(headers.get("authorization", "").removeprefix("Bearer ").strip())
        if status is not TokenStatus.VALID or grant is None:
            code = "token_expired" if status is TokenStatus.EXPIRED else "token_invalidated"
            return await _deny(scope, send, 401, auth_error(code, "Provided authentication token is expired or invalid."))
        item.account = grant.email
        if headers.get("chatgpt-account-id") != grant.account_id:
            return await _deny(scope, send, 401, auth_error("account_mismatch", "ChatGPT-Account-Id does not match."))
        if BETA not in [v.strip() for v in headers.get("openai-beta", "").split(",")]:
            return await _deny(scope, send, 426, {"detail": f"WebSocket mode needs OpenAI-Beta: {BETA}"})
        scripted = self.backend.recorder.peek(grant.email)
        if scripted is not None and scripted.get("mode") == "refuse_upgrade":
            refused = self.backend.recorder.next_reply(grant.email) or scripted
            return await _deny(scope, send, int(refused.get("status", 503)), {"detail": "Upgrade refused"})
        await send({"type": "websocket.accept"})
        await _Connection(self, grant, headers, send).serve(receive)


class _Connection:
    """One accepted socket: the responses it produced (for `previous_response_id`) and its frames."""

    def __init__(self, fake: CodexWebSocketFake, grant: Any, headers: dict[str, str], send: Send) -> None:
        self.fake = fake
        self.grant = grant
        self.headers = headers
        self.send = send
        self.items_of: dict[str, list[Any]] = {}  # response id -> the whole conversation up to and with it

    async def serve(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = (message.get("bytes") or b"").decode("utf-8", "replace")
            self.fake.recorder.record(Recorded("WS", PATH, "", self.headers, raw.encode(), self.grant.email))
            if not await self._turn(raw):
                return

    async def _turn(self, raw: str) -> bool:
        try:
            frame = json.loads(raw)
        except ValueError:
            return await self._error(400, {"type": "invalid_request_error", "message": "Invalid JSON in frame"})
        if not isinstance(frame, dict) or frame.get("type") != "response.create":
            kind = frame.get("type") if isinstance(frame, dict) else None
            return await self._error(400, {"type": "invalid_request_error",
                                           "message": f"Unsupported event type: {kind!r}", "param": "type"})
        req = {k: v for k, v in frame.items() if k != "type"}
        generate = req.pop("generate", True)
        history: list[Any] = []
        previous = req.pop("previous_response_id", None)
        if previous:
            if previous not in self.items_of:
                bad = codex_rules.bad(f"Previous response with id '{previous}' not found.", "previous_response_id",
                                      "previous_response_not_found")
                return await self._error(400, bad["error"])
            history = self.items_of[previous]
        new_items = req.get("input") if isinstance(req.get("input"), list) else []
        whole = dict(req, input=history + new_items)
        refusal = codex_rules.refuse(whole, self.grant.account_id, self.fake.backend._unseal_ok)
        if refusal is not None:
            error = refusal.get("error") or {"type": "invalid_request_error", "message": refusal.get("detail")}
            return await self._error(400, error)

        backend = self.fake.backend
        email = self.grant.email
        token = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
        status, _ = backend.book.check(token)
        if status is not TokenStatus.VALID:  # the upgrade's token expired or was revoked since
            code = "token_expired" if status is TokenStatus.EXPIRED else "token_invalidated"
            return await self._error(401, auth_error(code, "Provided authentication token is expired or invalid.")["error"])
        reply = backend.recorder.next_reply(email) or backend._modes.get(email) or backend._modes.get(None) or {}
        full = backend.meter.full(email)
        if full is not None and int(reply.get("status", 200)) < 400:
            reply = {"status": 429, "resets_at": int(full.full_reset), "headers": codex_headers(full)}
        status = int(reply.get("status", 200))
        if status >= 400:
            return await self._failed(status, reply)
        mode = reply.get("mode")
        if mode == "cut_before":
            return False
        await self._send(_rate_limits_event(codex_headers(backend.meter.charge(email))))
        limit = int(reply.get("events", 1)) if mode == "cut_after" else None
        events = [] if generate is False else list(backend._events(whole, self.grant.account_id, reply))
        if generate is False:  # Codex CLI's warm-up: a response with no output, nothing generated
            events = _warmup_events(backend._events(whole, self.grant.account_id, reply))
        for n, (name, data) in enumerate(events):
            if limit is not None and n >= limit:
                return False
            await self._send(data)
            if name == "response.created" and reply.get("unknown_event"):
                await self._send({"type": UNKNOWN_EVENT, "note": "a type no client knows", "n": 1})
            if name == "response.completed":
                output = data["response"].get("output") or []
                self.items_of[data["response"]["id"]] = whole["input"] + list(output)
        return True

    async def _failed(self, status: int, reply: dict[str, Any]) -> bool:
        if status == 429:
            error: dict[str, Any] = {"type": "usage_limit_reached", "message": "You've hit your usage limit.",
                                     "plan_type": "plus"}
            error.update({k: reply[k] for k in ("resets_in_seconds", "resets_at") if k in reply})
            return await self._error(429, error, reply.get("headers"))
        if status == 401:
            body = auth_error(reply.get("code", "token_invalidated"), "Your authentication token has been invalidated.")
            return await self._error(401, body["error"])
        return await self._error(status, {"type": "server_error", "message": f"Upstream error {status}"},
                                 reply.get("headers"))

    async def _error(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None) -> bool:
        frame: dict[str, Any] = {"type": "error", "status": status, "error": error}
        if headers:
            frame["headers"] = headers
        await self._send(frame)
        return True  # the socket stays open for the next response.create

    async def _send(self, data: dict[str, Any]) -> None:
        await self.send({"type": "websocket.send", "text": json.dumps(data)})


def _warmup_events(events: Any) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for name, data in events:
        if name in ("response.created", "response.in_progress"):
            out.append((name, data))
        elif name == "response.completed":
            response = dict(data["response"], output=[])
            out.append((name, dict(data, response=response)))
    return out


def _rate_limits_event(headers: dict[str, str]) -> dict[str, Any]:
    """The WebSocket-only `codex.rate_limits` event Codex CLI reads its /status figures from."""

    def window(name: str) -> dict[str, Any]:
        return {"used_percent": float(headers[f"x-codex-{name}-used-percent"]),
                "window_minutes": int(headers[f"x-codex-{name}-window-minutes"]),
                "reset_at": int(headers[f"x-codex-{name}-reset-at"])}

    return {"type": "codex.rate_limits", "plan_type": "plus",
            "rate_limits": {"primary": window("primary"), "secondary": window("secondary")}, "credits": None}


async def _deny(scope: dict[str, Any], send: Send, status: int, body: Any) -> None:
    """Refuse the upgrade with an HTTP answer (what a client sees as the handshake's status)."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008})  # the server then answers 403
        return
    raw = json.dumps(body).encode()
    await send({"type": "websocket.http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
    await send({"type": "websocket.http.response.body", "body": raw})
