"""A strict fake of the Anthropic Messages API, accepting the tokens of the fake Claude OAuth server.

The gateway's Claude path must produce requests the real API accepts from a subscription token (Bearer,
the OAuth beta, the Claude Code identity, intact thinking signatures, paired tool calls) and must survive
what the real API does under load (429 with unified reset headers, 5xx, overloads, cut connections).
This fake enforces the first and can be scripted to do the second, per call or per account.

    book = TokenBook(); fake = AnthropicFake(book); grant = book.issue("a@example.com")
    fake.recorder.script({"status": 429, "reset_in": 60}, account="a@example.com")
    fake.set_mode("b@example.com", {"mode": "cut_before"})   # sticky until clear_mode
    {"mode": "cut_after", "events": 4}    # socket dropped after 4 SSE events
    {"mode": "end_after", "events": 4}    # a clean end after 4 events, no message_stop
    {"text": "..."}                       # the answer's text (any mode)
    {"extra_events": [["brand_new", {"type": "brand_new"}]]}   # sent right after message_start

Scripts and modes apply to POST /v1/messages only; count_tokens and /v1/models always answer normally.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import threading
import time
from typing import Any, AsyncIterator, Iterable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.demo.fakes.anthropic_errors import DEFAULT_MESSAGES, ERROR_TYPES, ApiError, error_envelope, new_request_id
from gateway.demo.fakes.anthropic_replies import Signer, build_message, long_stream_events, sse, stream_events
from gateway.demo.fakes.anthropic_rules import check_messages_request, check_required, check_version
from gateway.demo.fakes.recorder import Recorded, Recorder
from gateway.demo.fakes.tokens import TokenBook, TokenStatus
from gateway.demo.fakes.usage_meter import UsageMeter, anthropic_headers

OAUTH_BETA = "oauth-2025-04-20"
EXPIRED_MESSAGE = "OAuth token has expired. Please obtain a new token or refresh your existing token."
_RAW_SEND = "subgate.fake.raw_send"
_FIVE_HOURS = 5 * 3600

MODELS = [
    ("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-24T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
]


class ConnectionCut(ConnectionResetError):
    """Raised into in-process transports (httpx.ASGITransport), which have no socket to drop."""


class _App(Starlette):
    """Keeps the server's own `send` in the scope so a handler can reach the socket and drop it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_RAW_SEND] = send
        await super().__call__(scope, receive, send)


async def drop_connection(scope: Scope) -> None:
    """Close the client's socket without a response (uvicorn's h11 cycle holds the transport)."""
    cycle = getattr(scope.get(_RAW_SEND), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionCut("the fake dropped the connection")
    transport.close()
    for _ in range(200):  # wait for connection_lost so uvicorn does not answer a 500 in our place
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.005)


def _ratelimit_headers(status: str, reset: int, *, seven_day: str = "allowed") -> dict[str, str]:
    return {
        "anthropic-ratelimit-unified-status": status,
        "anthropic-ratelimit-unified-reset": str(reset),
        "anthropic-ratelimit-unified-5h-status": status,
        "anthropic-ratelimit-unified-5h-reset": str(reset),
        "anthropic-ratelimit-unified-7d-status": seven_day,
        "anthropic-ratelimit-unified-7d-reset": str(int(time.time()) + 7 * 86400),
        "anthropic-ratelimit-unified-representative-claim": "five_hour",
    }


def _betas(request: Request) -> set[str]:
    values = request.headers.getlist("anthropic-beta")
    return {b.strip() for value in values for b in value.split(",") if b.strip()}


class AnthropicFake:
    def __init__(self, book: TokenBook, *, require_claude_code_identity: bool = True,
                 signing_key: bytes | None = None, meter: UsageMeter | None = None) -> None:
        self.book = book
        self.meter = meter or UsageMeter()
        self.require_claude_code_identity = require_claude_code_identity
        self.recorder = Recorder()
        self.signer = Signer(signing_key) if signing_key else Signer()
        self._modes: dict[str | None, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.streamed: dict[str | None, bytes] = {}  # the last stream body sent, per account
        self.app = _App(routes=[
            Route("/v1/messages", self._messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ])

    # -- test helpers -------------------------------------------------------------------------------

    def set_mode(self, email: str | None, reply: dict[str, Any]) -> None:
        """Answer every /v1/messages call of `email` (every account when None) with `reply` until cleared."""
        with self._lock:
            self._modes[email] = reply

    def clear_mode(self, email: str | None = None) -> None:
        with self._lock:
            self._modes.pop(email, None)

    def clear_modes(self) -> None:
        with self._lock:
            self._modes.clear()

    def hits(self, email: str, suffix: str = "/v1/messages") -> int:
        return self.recorder.hits(email, suffix)

    def messages_requests(self, email: str | None = None) -> list[Recorded]:
        return [r for r in self.recorder.for_path("/v1/messages") if email is None or r.account == email]

    def _reply_for(self, account: str | None) -> dict[str, Any] | None:
        scripted = self.recorder.next_reply(account)
        if scripted is not None:
            return scripted
        with self._lock:
            return self._modes.get(account) or self._modes.get(None)

    # -- shared request handling --------------------------------------------------------------------

    async def _admit(self, request: Request, *, version: bool = True) -> tuple[bytes, Recorded]:
        """Record the request, then apply the auth and version rules every route shares."""
        raw = await request.body()
        status, grant, oauth_token = TokenStatus.UNKNOWN, None, None
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            oauth_token = auth[7:].strip()
            status, grant = self.book.check(oauth_token)
        item = Recorded(request.method, request.url.path, request.url.query,
                        {k.lower(): v for k, v in request.headers.items()}, raw,
                        account=grant.email if grant else None)
        self.recorder.record(item)
        if "x-api-key" in request.headers:
            raise ApiError(401, "invalid x-api-key")
        if not auth:
            raise ApiError(401, "x-api-key header is required")
        if oauth_token is None or status is TokenStatus.UNKNOWN:
            raise ApiError(401, "Invalid bearer token")
        if status is TokenStatus.EXPIRED:
            raise ApiError(401, EXPIRED_MESSAGE)
        if OAUTH_BETA not in _betas(request):
            raise ApiError(401, "OAuth authentication is currently not supported.")
        if version:
            check_version(request.headers.get("anthropic-version"))
        return raw, item

    def _headers(self, request_id: str, account: str | None) -> dict[str, str]:
        if account is None:
            return {"request-id": request_id, **_ratelimit_headers("allowed", int(time.time()) + _FIVE_HOURS)}
        return {"request-id": request_id, **anthropic_headers(self.meter.charge(account))}

    def _limit_reached(self, account: str | None, request_id: str) -> Response | None:
        """429 once a usage window of the account is full, as the real API refuses a spent subscription."""
        reading = self.meter.full(account) if account else None
        if reading is None:
            return None
        error = ApiError(429, "This request would exceed your account's rate limit. Please try again later.")
        extra = anthropic_headers(reading, rejected=True)
        extra["retry-after"] = str(max(1, int(reading.full_reset - time.time())))
        return self._error(error, request_id, extra)

    def _error(self, error: ApiError, request_id: str, extra: dict[str, str] | None = None) -> Response:
        headers = {"request-id": request_id, "x-should-retry": "true" if error.status >= 500 else "false"}
        headers.update(extra or {})
        return JSONResponse(error_envelope(error.error_type, error.message, request_id),
                            status_code=error.status, headers=headers)

    def _scripted_error(self, reply: dict[str, Any], request_id: str) -> Response:
        status = int(reply.get("status", 500))
        message = reply.get("message") or DEFAULT_MESSAGES.get(status, "Error")
        error = ApiError(status, message, reply.get("type"))
        extra: dict[str, str] = dict(reply.get("headers") or {})
        if status == 429 and reply.get("unified", True):
            extra.update(_ratelimit_headers("rejected", int(time.time() + float(reply.get("reset_in", 3600)))))
        if reply.get("retry_after") is not None:
            extra["retry-after"] = str(int(reply["retry_after"]))
        if reply.get("mode") == "gzip_error":
            body = gzip.compress(json.dumps(error_envelope(error.error_type, message, request_id)).encode())
            headers = {"request-id": request_id, "content-encoding": "gzip", **extra}
            return Response(body, status_code=status, media_type="application/json", headers=headers)
        return self._error(error, request_id, extra)

    # -- routes -------------------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        request_id = new_request_id()
        reply: dict[str, Any] = {}
        try:
            raw, item = await self._admit(request)
            reply = self._reply_for(item.account) or {}
            slow = reply.get("mode") == "slow_first_byte"
            await asyncio.sleep(float(reply.get("delay", 1.0 if slow else 0)))
            if int(reply.get("status", 500 if reply.get("mode") == "gzip_error" else 200)) >= 400:
                return self._scripted_error(reply, request_id)
            limited = self._limit_reached(item.account, request_id)
            if limited is not None:
                return limited
            body = check_messages_request(
                _parse(raw), oauth=True, require_identity=self.require_claude_code_identity,
                betas=_betas(request), signer=self.signer)
        except ApiError as error:
            return self._error(error, request_id)
        mode = reply.get("mode")
        if mode == "cut_before":
            await drop_connection(request.scope)
            return Response(b"")
        message = build_message(body, self.signer, input_tokens=max(1, len(raw) // 4),
                                redacted=bool(reply.get("redacted_thinking")), text_override=reply.get("text"))
        headers = self._headers(request_id, item.account)
        if not body.get("stream"):
            if mode == "malformed_sse":
                return Response(b'{"id": "msg_01", "type": "mess', media_type="application/json", headers=headers)
            if mode == "cut_after":
                return StreamingResponse(self._cut_json(request.scope, message), media_type="application/json",
                                         headers=headers)
            return JSONResponse(message, headers=headers)
        return StreamingResponse(self._recorded(item.account, self._stream(request.scope, message, reply)),
                                 media_type="text/event-stream",
                                 headers={**headers, "cache-control": "no-cache"})

    async def _recorded(self, account: str | None, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        sent = b""
        try:
            async for chunk in chunks:
                sent += chunk
                yield chunk
        finally:
            self.streamed[account] = sent

    async def _stream(self, scope: Scope, message: dict[str, Any], reply: dict[str, Any]) -> AsyncIterator[bytes]:
        mode = reply.get("mode")
        interval = float(reply.get("interval", 0))
        if mode == "malformed_sse":
            yield sse(*stream_events(message)[0])
            yield b"data: {this is not json\n\n"
            yield b"event: content_block_delta\ndata: <<<garbage>>>\n\n"
            return
        if mode == "long_stream":
            events: Iterable[tuple[str, dict[str, Any]]] = long_stream_events(message, int(reply.get("events", 100)))
        else:
            events = stream_events(message)
            extra = [(str(name), data) for name, data in reply.get("extra_events", [])]
            events = events[:1] + extra + events[1:]  # event types the gateway never heard of
        limit = int(reply.get("events", 1)) if mode in ("cut_after", "end_after") else None
        for n, (name, data) in enumerate(events):
            if limit is not None and n >= limit:
                if mode == "cut_after":
                    await drop_connection(scope)
                return  # end_after: a clean end of the HTTP body, without message_stop
            if interval and n:
                await asyncio.sleep(interval)
            yield sse(name, data)

    async def _cut_json(self, scope: Scope, message: dict[str, Any]) -> AsyncIterator[bytes]:
        text = json.dumps(message).encode()
        yield text[: len(text) // 2]
        await drop_connection(scope)

    async def _count_tokens(self, request: Request) -> Response:
        request_id = new_request_id()
        try:
            raw, recorded = await self._admit(request)
            check_required(_parse(raw), ("model", "messages"))
        except ApiError as error:
            return self._error(error, request_id)
        with self._lock:  # an account's rate limit applies to counting too (status modes only)
            mode = self._modes.get(recorded.account) or self._modes.get(None)
        if mode is not None and "status" in mode:
            return self._scripted_error(mode, request_id)
        return JSONResponse({"input_tokens": max(1, len(raw) // 4)}, headers={"request-id": request_id})

    async def _models(self, request: Request) -> Response:
        request_id = new_request_id()
        try:
            await self._admit(request, version=False)
        except ApiError as error:
            return self._error(error, request_id)
        data = [{"type": "model", "id": i, "display_name": n, "created_at": c} for i, n, c in MODELS]
        return JSONResponse({"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]},
                            headers={"request-id": request_id})


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "There was an error parsing the body of your request as JSON") from None


def main(argv: list[str] | None = None) -> None:
    """`python -m gateway.demo.fakes.anthropic_api --port 9100`: serve the fake with one pre-issued account."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--email", default="bench@example.com")
    parser.add_argument("--no-identity", action="store_true", help="do not require the Claude Code identity")
    args = parser.parse_args(argv)
    book = TokenBook(access_ttl=30 * 86400)
    fake = AnthropicFake(book, require_claude_code_identity=not args.no_identity)
    grant = book.issue(args.email)
    print(json.dumps({"email": grant.email, "access_token": grant.access_token,
                      "refresh_token": grant.refresh_token, "base_url": f"http://127.0.0.1:{args.port}"}), flush=True)
    uvicorn.run(fake.app, host="127.0.0.1", port=args.port, log_level="warning", http="h11")


if __name__ == "__main__":
    main()
