"""One access-log line per request (logger `subgate.access`), written when the response has ended.

The line joins what only the front layer knows (route, status, latency, for streams the time the last
byte left, and `overhead_ms`: the time spent in the gateway before the answer started, upstream time
excluded, also sent to the client as `x-subgate-overhead-ms`) with what only the hook knows (which account served it, the upstream's token counts).
LiteLLM reports usage from a background logging worker, usually a few milliseconds after the client
got its last byte, so a successful LLM response is parked until its usage arrives (matched by
LiteLLM's call id) and flushed without tokens if none comes within PARK_SECONDS.

Never logged: the query string (clients may put their key there), headers, bodies, prompt text,
tokens. Upstream error bodies are logged on failures, decompressed, truncated and scrubbed of
anything shaped like a credential.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import request_context
from gateway.usage import Tokens

log = logging.getLogger("subgate.access")
upstream_log = logging.getLogger("subgate.upstream")

PARK_SECONDS = 5.0
MAX_PARKED = 10_000
ERROR_BODY_CHARS = 1000
ERROR_MESSAGE_CHARS = 300
QUIET_PATHS = ("/health", "/metrics", "/ui", "/favicon.ico")
_SECRETISH = re.compile(
    r"(sk-ant-[\w-]+|sk-[A-Za-z0-9_-]{16,}|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*|(?i:bearer)\s+\S+|[A-Za-z0-9_-]{40,})"
)
_ids = itertools.count(1)
_PREFIX = f"{os.getpid() % 0xFFFF:04x}"


@dataclass
class AccessEntry:
    request_id: str
    method: str
    path: str
    started: float
    status: int = 0
    latency_ms: float = 0.0
    account: str = ""
    model: str = ""
    tokens: Tokens | None = None
    attempted: bool = False
    finished: bool = False
    written: bool = False
    call_id: str = ""
    error: str = ""
    upstream_ms: float = 0.0
    overhead_ms: float | None = None

    def line(self) -> str:
        tok = self.tokens
        overhead = f" overhead_ms={self.overhead_ms:.2f}" if self.overhead_ms is not None else ""
        tokens = (f" tokens_in={tok.input} tokens_out={tok.output} cached={tok.cached} reasoning={tok.reasoning}"
                  if tok is not None else "")
        error = f" error={json.dumps(self.error, ensure_ascii=False)}" if self.error else ""
        return (f"{self.request_id} {self.method} {self.path} status={self.status} model={self.model or '-'} "
                f"account={self.account or '-'} latency_ms={self.latency_ms:.0f}{overhead}{tokens}{error}")


_entry: ContextVar[AccessEntry | None] = ContextVar("subgate_access_entry", default=None)
_by_call: dict[str, AccessEntry] = {}


def scrub(text: str) -> str:
    return _SECRETISH.sub("[redacted]", text)


def _write(entry: AccessEntry) -> None:
    if not entry.written:
        entry.written = True
        if entry.call_id:
            _by_call.pop(entry.call_id, None)
        log.info("%s", entry.line())


def note_attempt(call_id: Any, account: str) -> None:
    """From the hook, per attempt: the account this request went to (the last attempt wins)."""
    entry = _entry.get()
    if entry is None:
        return
    entry.account = account
    entry.attempted = True
    if call_id and not entry.call_id:
        entry.call_id = str(call_id)
        if len(_by_call) < MAX_PARKED:
            _by_call[entry.call_id] = entry


def note_error(message: str) -> None:
    """From the front layer: the error the client was given (an error answer or an error event in a
    stream), so the access line says why; a stream that ended in an error is not waited on for usage."""
    entry = _entry.get()
    if entry is not None and message and not entry.error:
        entry.error = scrub(" ".join(message.split()))[:ERROR_MESSAGE_CHARS]


def note_upstream_ms(ms: float) -> None:
    """From the model routes: time spent waiting for the upstream, which is not the gateway's overhead."""
    entry = _entry.get()
    if entry is not None:
        entry.upstream_ms += ms


def note_model(model: str) -> None:
    """For routes the gateway answers itself (count_tokens): the model the access line names."""
    entry = _entry.get()
    if entry is not None and model:
        entry.model = model


def current_call_id() -> str:
    """LiteLLM's call id of the request being handled ("" before the first attempt)."""
    entry = _entry.get()
    return entry.call_id if entry is not None else ""


def note_usage(call_id: Any, account: str, model: str, tokens: Tokens | None) -> None:
    """From the success event (any task): attach the usage; write the line if the response already ended."""
    entry = _by_call.get(str(call_id or ""))
    if entry is None:
        return
    entry.tokens = tokens
    entry.account = account or entry.account
    entry.model = entry.model or model
    if entry.finished:
        _write(entry)


def flush_parked(max_age: float = PARK_SECONDS) -> None:
    """Lines whose usage never came (the runtime loop calls this every few seconds)."""
    now = time.monotonic()
    for entry in list(_by_call.values()):
        if entry.finished and now - entry.started > max_age:
            _write(entry)
        elif now - entry.started > 3600:  # a response that never ended; forget it
            _by_call.pop(entry.call_id, None)


def _finish(entry: AccessEntry) -> None:
    if entry.finished:
        return
    entry.finished = True
    entry.latency_ms = (time.monotonic() - entry.started) * 1000
    if not entry.model:
        entry.model = request_context.current().model
    if entry.tokens is None and entry.attempted and entry.status < 400 and not entry.error and entry.call_id in _by_call:
        return  # parked until note_usage or flush_parked
    _write(entry)


class RequestLog:
    """Pure ASGI; adds `x-request-id` to every answer so a user can quote it when reporting a problem."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if path.startswith(QUIET_PATHS):  # not logged, but timed like every answer
            await self.app(scope, receive, _timed(send, time.monotonic()))
            return
        entry = AccessEntry(f"{_PREFIX}-{next(_ids):06d}", scope.get("method", ""), path, time.monotonic())
        _entry.set(entry)
        rid = entry.request_id.encode()

        async def send_wrapper(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                entry.status = int(message["status"])
                elapsed = (time.monotonic() - entry.started) * 1000.0
                entry.overhead_ms = max(0.0, elapsed - entry.upstream_ms)
                overhead = f"{entry.overhead_ms:.2f}".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid),
                                                  (b"x-subgate-overhead-ms", overhead)]}
                await send(message)
                return
            await send(message)
            if kind == "http.response.body" and not message.get("more_body"):
                _finish(entry)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            entry.status = entry.status or 500
            raise
        finally:
            _finish(entry)


def _timed(send: Send, started: float) -> Send:
    async def send_wrapper(message: Message) -> None:
        if message["type"] == "http.response.start":
            overhead = f"{(time.monotonic() - started) * 1000.0:.2f}".encode()
            message = {**message, "headers": [*message.get("headers", []), (b"x-subgate-overhead-ms", overhead)]}
        await send(message)
    return send_wrapper


def upstream_error_text(exc: BaseException) -> str:
    """The upstream's error body as text: gzip without a header decompressed, truncated, scrubbed."""
    raw: bytes | str = b""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            raw = response.content
        except Exception:
            raw = b""
    if isinstance(raw, bytes) and raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except OSError:
            pass
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if not text.strip():
        text = str(getattr(exc, "message", "") or exc)
    text = " ".join(text.split())
    return scrub(text)[:ERROR_BODY_CHARS]


def log_upstream_error(provider: str, account: str, model: str, status: int | None, exc: BaseException) -> str:
    text = upstream_error_text(exc)
    upstream_log.warning("upstream error: %s %s model=%s status=%s body=%s", provider, account, model or "-",
                         status if status is not None else "-", text)
    return text
