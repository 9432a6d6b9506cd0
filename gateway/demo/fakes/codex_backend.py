"""A strict fake of the ChatGPT Codex backend (`POST /backend-api/codex/responses`).

It is at least as strict as the real service, so that the gateway cannot pass
its tests while sending something chatgpt.com would refuse: a live Bearer from the shared `TokenBook`,
the matching `chatgpt-account-id`, `stream: true`, `store: false`, non-empty `instructions`, none of the
parameters the backend rejects, tool results paired with their calls, and reasoning replays whose
`encrypted_content` was issued by this fake to this account (the rules: gateway/demo/fakes/codex_rules.py).
Replies are real-looking SSE (`event:` + `data:` lines) so the gateway's stream handling is exercised as it
will be in production. Each answer spends the account's usage meter and reports it in `x-codex-*` headers;
the account endpoints Codex CLI's /status reads live in gateway/demo/fakes/codex_wham.py.

Replies follow the Anthropic fake's conventions: per call with `recorder.script(reply, account=email)`,
or sticky with `set_mode(email | None, reply)` until `clear_mode`. A reply is a dict:

    {"status": 429, "resets_in_seconds": 60}      # usage_limit_reached (or "resets_at"; neither is fine)
    {"status": 401, "code": "token_expired"}      # any other status >= 400 answers a JSON error
    {"mode": "gzip_error", "status": 502}         # gzip body with Content-Encoding: gzip
    {"mode": "cut_before"}                        # socket closed before any byte
    {"mode": "cut_after", "events": 5}            # socket closed after 5 SSE events
    {"mode": "end_after", "events": 5}            # clean end after 5 events, no response.completed
    ... "pause": 0.3                               # (with cut_after / end_after) wait before stopping
    {"mode": "slow_first_byte", "delay": 2.0}
    {"mode": "malformed_sse"}
    {"mode": "long_stream", "events": 500}        # text deltas "[n@<send time>]" for latency benchmarks
    {"mode": "response_failed", "code": "server_error", "message": "..."}
    {"text": "..."} / {"tool_calls": 2} / {"call": "name", "arguments": {...}} / {"empty_output": True}
    {"extras": True}                              # + an unknown event type, an unknown field, a comment

`streamed[email]` holds the stream body last sent to that account, as it went out.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Awaitable, Callable

from gateway.demo.fakes import codex_rules
from gateway.demo.fakes.codex_rules import UNSUPPORTED  # noqa: F401 - tests read it from here
from gateway.demo.fakes.codex_websocket import CodexWebSocketFake
from gateway.demo.fakes.codex_wham import WHAM_PREFIX, auth_error, wham_answer
from gateway.demo.fakes.recorder import Recorded, Recorder
from gateway.demo.fakes.tokens import TokenBook, TokenStatus
from gateway.demo.fakes.usage_meter import UsageMeter, codex_headers

PATH = "/backend-api/codex/responses"
DEFAULT_TEXT = "Hello from the fake Codex backend."
REASONING_SUMMARY = "Thinking about the request."

Send = Callable[[dict[str, Any]], Awaitable[None]]


class CodexBackendFake:
    def __init__(self, book: TokenBook, *, text: str = DEFAULT_TEXT, chunk_chars: int = 8,
                 meter: UsageMeter | None = None) -> None:
        self.book = book
        self.meter = meter or UsageMeter()
        self.recorder = Recorder()
        self.text = text
        self.chunk_chars = chunk_chars
        self._secret = secrets.token_bytes(32)
        self._modes: dict[str | None, dict[str, Any]] = {}
        self.websocket = CodexWebSocketFake(self)  # the Responses WebSocket on the same path (own module)
        self.streamed: dict[str, bytearray] = {}

        async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Send) -> None:
            await self._handle(scope, receive, send)

        self.app = app  # a plain coroutine function, so servers detect ASGI 3 (a bound method reads as ASGI 2)

    # ---- test controls -------------------------------------------------------------------------------
    def set_mode(self, email: str | None, reply: dict[str, Any]) -> None:
        """Answer every call of `email` (every account when None) with `reply` until cleared."""
        self._modes[email] = reply

    def clear_mode(self, email: str | None = None) -> None:
        self._modes.pop(email, None)

    def clear_modes(self) -> None:
        self._modes.clear()

    def hits(self, email: str) -> int:
        return self.recorder.hits(email, PATH)

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies that reached /responses, oldest first."""
        return [r.json() for r in self.recorder.for_path(PATH)]

    def seal_reasoning(self, account_id: str, summary: str = REASONING_SUMMARY) -> str:
        """The `encrypted_content` this fake would issue for `account_id` (tests forge replays with it)."""
        payload = base64.urlsafe_b64encode(
            json.dumps({"acct": account_id, "n": secrets.token_hex(6), "s": summary}).encode()
        ).decode()
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        return f"gAAAA{payload}.{mac}"

    def _unseal_ok(self, blob: Any, account_id: str) -> bool:
        if not isinstance(blob, str) or not blob.startswith("gAAAA") or "." not in blob:
            return False
        payload, _, mac = blob[5:].rpartition(".")
        want = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, want):
            return False
        try:
            return json.loads(base64.urlsafe_b64decode(payload))["acct"] == account_id
        except (ValueError, KeyError):
            return False

    # ---- ASGI ----------------------------------------------------------------------------------------
    async def _handle(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Send) -> None:
        if scope["type"] == "websocket":
            return await self.websocket(scope, receive, send)
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        item = Recorded(scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers, body)
        self.recorder.record(item)
        if scope["path"].startswith(WHAM_PREFIX) and scope["method"] == "GET":
            return await _json(send, *wham_answer(scope["path"], headers, self.book, self.meter))
        if scope["path"] != PATH or scope["method"] != "POST":
            return await _json(send, 404, {"detail": "Not Found"})

        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        status, grant = self.book.check(token)
        if grant is not None:
            item.account = grant.email
        if status is not TokenStatus.VALID or grant is None:
            code = "token_expired" if status is TokenStatus.EXPIRED else "token_invalidated"
            return await _json(send, 401, auth_error(code, "Provided authentication token is expired or invalid."))
        if headers.get("chatgpt-account-id") != grant.account_id:
            return await _json(send, 401, auth_error("account_mismatch", "ChatGPT-Account-Id does not match."))
        try:
            req = json.loads(body)
        except ValueError:
            return await _json(send, 400, {"detail": "Invalid JSON body"})
        refusal = codex_rules.refuse(req, grant.account_id, self._unseal_ok)
        if refusal is not None:
            return await _json(send, 400, refusal)

        reply = self.recorder.next_reply(grant.email) or self._modes.get(grant.email) or self._modes.get(None) or {}
        full = self.meter.full(grant.email)
        if full is not None and int(reply.get("status", 200)) < 400:
            # a spent subscription: usage_limit_reached with the reset of the full window
            reply = {"status": 429, "resets_at": int(full.full_reset), "headers": codex_headers(full)}
        elif int(reply.get("status", 200)) < 400 and reply.get("mode") not in ("cut_before", "gzip_error"):
            reply = dict(reply, usage_headers=codex_headers(self.meter.charge(grant.email)))
        await self._answer(send, req, grant.account_id, reply, self.streamed.setdefault(grant.email, bytearray()))

    # ---- replies -------------------------------------------------------------------------------------
    async def _answer(self, send: Send, req: dict[str, Any], account_id: str, reply: dict[str, Any],
                      out: bytearray) -> None:
        mode = reply.get("mode")
        status = int(reply.get("status", 502 if mode == "gzip_error" else 200))
        if mode == "gzip_error":
            raw = gzip.compress(json.dumps(reply.get("body", {"detail": f"Upstream error {status}"})).encode())
            hdrs = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            return await send({"type": "http.response.body", "body": raw})
        if status == 429:
            error: dict[str, Any] = {"type": "usage_limit_reached", "message": "You've hit your usage limit.",
                                     "plan_type": "plus"}
            error.update({k: reply[k] for k in ("resets_in_seconds", "resets_at") if k in reply})
            return await _json(send, 429, {"error": error}, reply.get("headers"))
        if status == 401:
            return await _json(send, 401, auth_error(reply.get("code", "token_invalidated"),
                                                      "Your authentication token has been invalidated."))
        if status >= 400:
            return await _json(send, status, reply.get("body", {"detail": f"Upstream error {status}"}),
                               reply.get("headers"))
        if mode == "cut_before":
            return await _drop(send)
        if mode == "slow_first_byte":
            await asyncio.sleep(float(reply.get("delay", 1.0)))
        usage = [(k.encode(), v.encode()) for k, v in (reply.get("usage_headers") or {}).items()]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), *usage]})
        if mode == "malformed_sse":
            await _chunk(send, b"event: response.created\ndata: {not json at all\n\n")
            return await _chunk(send, b"data: <<<garbage>>>\n\n", last=True)
        limit = int(reply.get("events", 1)) if mode in ("cut_after", "end_after") else None
        out.clear()
        for n, (name, data) in enumerate(self._events(req, account_id, reply)):  # lazy: long_stream stamps
            if limit is not None and n >= limit:
                await asyncio.sleep(float(reply.get("pause", 0)))  # lets the client read what went before
                return await (_drop(send) if mode == "cut_after" else _chunk(send, b"", last=True))
            raw = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            if reply.get("extras"):  # what a newer backend may send: the gateway must pass it on as is
                data["brand_new_field"] = {"nested": [1, "two", None]}
                if isinstance(data.get("response"), dict):
                    data["response"] = dict(data["response"], brand_new_field={"nested": [1, "two", None]})
                raw = b": keep-alive\n\n" + f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                if n == 0:
                    raw += b'event: response.brand_new_event\ndata: {"type":"response.brand_new_event","x":1}\n\n'
            out += raw
            await _chunk(send, raw)
        await _chunk(send, b"", last=True)

    def _events(self, req: dict[str, Any], account_id: str, reply: dict[str, Any]):
        seq = iter(range(1_000_000))
        resp_id = "resp_" + secrets.token_hex(12)
        base = {
            "id": resp_id, "object": "response", "created_at": int(time.time()), "status": "in_progress",
            "background": False, "error": None, "incomplete_details": None, "instructions": req["instructions"],
            "max_output_tokens": None, "model": req["model"], "output": [],
            "parallel_tool_calls": req.get("parallel_tool_calls", True), "previous_response_id": None,
            "prompt_cache_key": req.get("prompt_cache_key"), "reasoning": req.get("reasoning") or {},
            "service_tier": "auto", "store": False, "temperature": 1.0,
            "text": req.get("text") or {"format": {"type": "text"}}, "tool_choice": req.get("tool_choice", "auto"),
            "tools": req.get("tools") or [], "top_p": 1.0, "truncation": "disabled", "usage": None, "user": None,
            "metadata": {},
        }

        def ev(name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
            return name, {"type": name, "sequence_number": next(seq), **fields}

        yield ev("response.created", response=dict(base))
        yield ev("response.in_progress", response=dict(base))
        if reply.get("mode") == "response_failed":
            failed = dict(base, status="failed", error={"code": reply.get("code", "server_error"),
                                                        "message": reply.get("message", "The model failed.")})
            yield ev("response.failed", response=failed)
            return

        output: list[dict[str, Any]] = []
        rs = {"id": "rs_" + secrets.token_hex(8), "type": "reasoning", "summary": []}
        yield ev("response.output_item.added", output_index=0, item=dict(rs, encrypted_content=None))
        part = {"type": "summary_text", "text": ""}
        yield ev("response.reasoning_summary_part.added", item_id=rs["id"], output_index=0, summary_index=0, part=part)
        for piece in _pieces(REASONING_SUMMARY, 10):
            yield ev("response.reasoning_summary_text.delta", item_id=rs["id"], output_index=0, summary_index=0,
                     delta=piece)
        yield ev("response.reasoning_summary_text.done", item_id=rs["id"], output_index=0, summary_index=0,
                 text=REASONING_SUMMARY)
        done_part = {"type": "summary_text", "text": REASONING_SUMMARY}
        yield ev("response.reasoning_summary_part.done", item_id=rs["id"], output_index=0, summary_index=0,
                 part=done_part)
        rs_done = dict(rs, summary=[done_part], encrypted_content=self.seal_reasoning(account_id))
        output.append(rs_done)
        yield ev("response.output_item.done", output_index=0, item=rs_done)

        calls = _planned_calls(req, reply)
        if calls:
            for name in calls:
                idx = len(output)
                args = json.dumps(reply.get("arguments", {"path": "README.md"}))
                fc = {"id": "fc_" + secrets.token_hex(8), "type": "function_call", "status": "in_progress",
                      "call_id": "call_" + secrets.token_hex(8), "name": name, "arguments": ""}
                yield ev("response.output_item.added", output_index=idx, item=fc)
                for piece in _pieces(args, 6):
                    yield ev("response.function_call_arguments.delta", item_id=fc["id"], output_index=idx,
                             delta=piece)
                yield ev("response.function_call_arguments.done", item_id=fc["id"], output_index=idx, arguments=args)
                fc_done = dict(fc, status="completed", arguments=args)
                output.append(fc_done)
                yield ev("response.output_item.done", output_index=idx, item=fc_done)
        else:
            idx = len(output)
            msg = {"id": "msg_" + secrets.token_hex(8), "type": "message", "status": "in_progress",
                   "role": "assistant", "content": []}
            yield ev("response.output_item.added", output_index=idx, item=msg)
            empty = {"type": "output_text", "text": "", "annotations": []}
            yield ev("response.content_part.added", item_id=msg["id"], output_index=idx, content_index=0, part=empty)
            text_parts: list[str] = []
            if reply.get("mode") == "long_stream":
                for i in range(int(reply.get("events", 100))):
                    piece = f"[{i}@{time.time():.6f}]"
                    text_parts.append(piece)
                    yield ev("response.output_text.delta", item_id=msg["id"], output_index=idx, content_index=0,
                             delta=piece)
            else:
                for piece in _pieces(reply.get("text", self.text), self.chunk_chars):
                    text_parts.append(piece)
                    yield ev("response.output_text.delta", item_id=msg["id"], output_index=idx, content_index=0,
                             delta=piece)
            text = "".join(text_parts)
            yield ev("response.output_text.done", item_id=msg["id"], output_index=idx, content_index=0, text=text)
            full = {"type": "output_text", "text": text, "annotations": []}
            yield ev("response.content_part.done", item_id=msg["id"], output_index=idx, content_index=0, part=full)
            msg_done = dict(msg, status="completed", content=[full])
            output.append(msg_done)
            yield ev("response.output_item.done", output_index=idx, item=msg_done)

        in_tokens = max(1, len(json.dumps(req.get("input", ""))) // 4 + len(req["instructions"]) // 4)
        cached = (in_tokens // 2) if req.get("prompt_cache_key") else 0
        out_tokens = max(1, len(json.dumps(output)) // 8)
        usage = {"input_tokens": in_tokens, "input_tokens_details": {"cached_tokens": cached},
                 "output_tokens": out_tokens, "output_tokens_details": {"reasoning_tokens": 16},
                 "total_tokens": in_tokens + out_tokens}
        completed_output = [] if reply.get("empty_output") else output
        yield ev("response.completed", response=dict(base, status="completed", output=completed_output, usage=usage))


def _planned_calls(req: dict[str, Any], reply: dict[str, Any]) -> list[str]:
    """Names to call: tools present and the turn is not answering a tool result (else a text answer)."""
    names = [t["name"] for t in req.get("tools") or [] if t.get("type") == "function" and "name" in t]
    items = req.get("input")
    last = items[-1] if isinstance(items, list) and items else {}
    if not names or reply.get("text") or last.get("type") in ("function_call_output", "custom_tool_call_output"):
        return []
    if reply.get("call"):
        return [reply["call"]]
    return [names[i % len(names)] for i in range(int(reply.get("tool_calls", 1)))]


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


async def _json(send: Send, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
    raw = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), str(v).encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


async def _drop(send: Send) -> None:
    """Close the socket with nothing sent: uvicorn's `send` is a bound method of the cycle that owns it."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionResetError("the fake dropped the connection")  # in-process transports have no socket
    transport.close()
    for _ in range(200):  # wait for connection_lost so uvicorn does not answer a 500 in our place
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.005)


async def _chunk(send: Send, data: bytes, *, last: bool = False) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": not last})
