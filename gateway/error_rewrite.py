"""Turning LiteLLM's error answers into the caller's dialect, with the facts the gateway knows.

LiteLLM wraps provider errors in its own text ("litellm.RateLimitError: AnthropicException - ...
Received Model Group=... LiteLLM Retried: 3 times"), never sets Retry-After on a final 429, and
says "Invalid model name" with a 400. Clients act on these answers (Claude Code and Codex CLI wait
for the reset, droid shows the message), so the front layer rewrites error responses only — 2xx
answers pass untouched; streams pass event by event, each as its exact bytes, without being buffered
(gateway/stream_errors.StreamReader: only error events are re-worded, and a stream cut before its
end is closed with an error event in the caller's dialect).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import request_context, request_log
from gateway.request_log import scrub
from gateway.errors import (
    Dialect,
    anthropic_error_type,
    dialect_for_path,
    error_body,
    json_bytes,
    no_accounts_message,
    openai_error_type,
    seconds_until,
    usage_limit_message,
)
from gateway.runtime import Runtime
from gateway.stream_errors import CUT, MALFORMED, UNREACHABLE, StreamReader, stream_kind, transport_message

ANTHROPIC_ERROR_TYPES = frozenset({
    "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
    "request_too_large", "rate_limit_error", "api_error", "overloaded_error", "timeout_error",
})
_BLAND = re.compile(r"^(?:Error code: \d+(?: - .*)?|Upstream error|error|)$", re.IGNORECASE | re.DOTALL)
_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*|\w+Exception\s*-\s*|\w+Error:\s*|Timeout Error:\s*)+")
_TAILS = (
    "Received Model Group=",
    " LiteLLM Retried:",
    "\nReceived Model Group",
    ". Received Model Group",
    "No fallback model group found",
    "Available Model Group Fallbacks",
    "\n\nLiteLLM: model group",
    "LiteLLM: model group",
    "\n\nDeployment Info:",
    "Deployment Info:",
)


def clean_message(message: str) -> str:
    """The upstream's own message, without LiteLLM's wrapping."""
    text = str(message or "").strip()
    plain = transport_message(text)
    if plain is not None:
        return plain
    text = _PREFIX.sub("", text)
    for tail in _TAILS:
        cut = text.find(tail)
        if cut > 0:
            text = text[:cut]
    text = text.strip().rstrip(".,;").strip() or "Upstream error"
    start = text.find("{")
    if start >= 0:
        try:
            inner = json.loads(text[start : text.rfind("}") + 1])
        except ValueError:
            if start == 0:  # the upstream's own body, cut short: LiteLLM passed the fragment on
                return MALFORMED
            inner = None
        if isinstance(inner, dict):
            err = inner.get("error", inner)
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                return err["message"]
            if isinstance(inner.get("detail"), str):
                return inner["detail"]
    return text


def _litellm_message(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or "")
        if isinstance(err, str):
            return err
        if isinstance(body.get("detail"), str):
            return body["detail"]
    return ""


class ErrorRewrite:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        facts = request_context.begin()
        start: Message | None = None
        chunks: list[bytes] = []

        streaming = False
        reader: StreamReader | None = None

        async def capture(message: Message) -> None:
            nonlocal start, streaming, reader
            if message["type"] == "http.response.start":
                if _is_stream(message):
                    streaming = True
                    if message["status"] < 300:
                        reader = StreamReader(stream_kind(scope.get("path", "")))
                if message["status"] < 400 or streaming:
                    await send(message)
                    return
                start = message
                return
            if reader is not None and message["type"] == "http.response.body":
                out = reader.feed(message.get("body", b""))
                more = bool(message.get("more_body"))
                if not more:
                    out += reader.finish()
                if reader.failure is not None:  # the access line says why the stream ended (first error only)
                    request_log.note_error(reader.failure)
                if out or not more:
                    await send({"type": "http.response.body", "body": out, "more_body": more})
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await self._send_rewritten(scope, send, start, b"".join(chunks), facts)
                return
            await send(message)

        await self.app(scope, receive, capture)

    async def _send_rewritten(
        self, scope: Scope, send: Send, start: Message, raw: bytes, facts: request_context.RequestFacts
    ) -> None:
        dialect: Dialect = dialect_for_path(scope.get("path", ""))
        try:
            original = json.loads(raw or b"null")
        except ValueError:
            original = None
        status = int(start["status"])
        status, body, extra_headers = self.rewrite(dialect, status, original, raw, facts)
        request_log.note_error(str((body.get("error") or {}).get("message") or ""))
        headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"content-length", b"content-type", b"retry-after")
        ]
        payload = json_bytes(body)
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in extra_headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def rewrite(
        self, dialect: Dialect, status: int, original: Any, raw: bytes, facts: request_context.RequestFacts
    ) -> tuple[int, dict, dict[str, str]]:
        """The client's answer. The status and kind come from the hook's classification
        (`RequestFacts.verdict`); LiteLLM's answer gives only the words, and its status only for an
        error no provider classified."""
        verdict = facts.verdict(status)
        message = clean_message(_litellm_message(original) or raw.decode("utf-8", "replace")[:500])
        if facts.upstream_message and _BLAND.match(message):
            message = facts.upstream_message  # LiteLLM's "Error code: 404" instead of the upstream's words
        message = scrub(message)  # an upstream may quote a credential back
        model = facts.model
        provider = facts.provider or self.rt.provider_for_model(model)
        if verdict.kind == "no_account" or (provider and not self.rt.usable_accounts(provider)):
            return 503, error_body(dialect, 503, no_accounts_message(provider, self.rt.providers.names()), code="no_account"), {}
        if verdict.kind == "quota":
            reset = verdict.reset_at or (self.rt.earliest_reset(provider) if provider else None)
            return self._rate_limited(dialect, model, provider, reset, message)
        litellm_status, status = status, verdict.status
        if status == 429:  # unclassified: an API-key deployment's own 429, said as it came
            return 429, error_body(dialect, 429, message), {}
        if message in (CUT, UNREACHABLE, MALFORMED) and status >= 500:
            return 502, error_body(dialect, 502, message, code="upstream_unavailable"), {}
        if verdict.kind == "unclassified" and (
                (status == 400 and "Invalid model name" in message) or "no healthy deployments" in message.lower()):
            known = ", ".join(name for name in self.rt.pool_names)
            text = f"The model `{model}` is not served by this gateway. Known models: {known}"
            return 404, error_body(dialect, 404, text, code="model_not_found"), {}
        restated = status != litellm_status  # LiteLLM filed it under another status (a 413 or 422 as 400)
        if isinstance(original, dict) and dialect == "openai" and isinstance(original.get("error"), dict):
            err = dict(original["error"])
            err["message"] = message
            if str(err.get("code")) in (str(status), str(litellm_status)):
                err["code"] = None
            if restated or not err.get("type") or err.get("type") == "None":
                err["type"] = openai_error_type(status)
            return status, {"error": err}, {}
        if isinstance(original, dict) and dialect == "anthropic" and isinstance(original.get("error"), dict):
            # LiteLLM renders OpenAI-style {"type": "None", "param": ..., "code": "400"}: keep only a real
            # Anthropic error type, so SDKs and Claude Code see the shape they parse.
            kind = str(original["error"].get("type") or "")
            if kind not in ANTHROPIC_ERROR_TYPES or restated:
                kind = anthropic_error_type(status)
            return status, error_body(dialect, status, message, error_type=kind), {}
        if status >= 500 and not message:
            message = "The upstream service failed."
        return status, error_body(dialect, status, message), {}

    def _rate_limited(
        self, dialect: Dialect, model: str, provider: str | None, reset: float | None, message: str
    ) -> tuple[int, dict, dict[str, str]]:
        if reset is None:
            return 429, error_body(dialect, 429, message), {}
        secs = seconds_until(reset)
        text = usage_limit_message(model, reset)
        extra = {"resets_in_seconds": secs, "resets_at": int(reset)}
        if dialect == "anthropic":
            body = error_body(dialect, 429, text, error_type="rate_limit_error")
        else:
            handler = self.rt.providers.get(provider)
            kind = handler.quota_error_type if handler is not None else "rate_limit_error"
            body = error_body(dialect, 429, text, error_type=kind, code=kind, extra=extra)
        return 429, body, {"retry-after": str(secs)}


def _is_stream(message: Message) -> bool:
    for k, v in message.get("headers", []):
        if k.lower() == b"content-type":
            return b"text/event-stream" in v.lower()
    return False
