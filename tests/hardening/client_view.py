"""What a client sees, reduced to the facts the hardening tests judge: status, dialect, stream ending.

A client library parses an error by its dialect: the Anthropic SDK and Claude Code expect
`{"type": "error", "error": {"type", "message"}}` on /v1/messages*, the OpenAI SDK, Codex CLI and droid
expect `{"error": {"message", "type", ...}}` elsewhere. Mid-stream, the only defined way to fail is an
error event followed by the end of the stream; anything else (a silent end, a hang, internals in the
text) is what these checks catch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

Dialect = Literal["anthropic", "openai"]

# Words that mean a Python/LiteLLM internal reached the client instead of a sentence for people.
INTERNALS = ("Traceback (most recent call last)", "litellm.", "LiteLLM", "aiohttp", "TransferEncodingError",
             "File \"/", "site-packages")


@dataclass
class Seen:
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed: float
    events: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_stream(self) -> bool:
        return "text/event-stream" in self.headers.get("content-type", "")


def call(client: httpx.Client, url: str, *, json_body: Any = None, content: bytes | None = None,
         headers: dict[str, str] | None = None, method: str = "POST") -> Seen:
    """One request, body read to the end; elapsed covers the whole answer, stream included."""
    t0 = time.monotonic()
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if content is not None:
        kwargs["content"] = content
    elif json_body is not None:
        kwargs["json"] = json_body
    with client.stream(method, url, **kwargs) as r:
        body = b"".join(r.iter_bytes())
    seen = Seen(r.status_code, r.headers, body, time.monotonic() - t0)
    if seen.is_stream:
        seen.events = parse_sse(body)
    return seen


def parse_sse(raw: bytes) -> list[tuple[str, Any]]:
    """(event name or "", data parsed as JSON when it is JSON) for every event in an SSE body."""
    out: list[tuple[str, Any]] = []
    for block in raw.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n"):
        name, data_lines = "", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].lstrip())
        if not data_lines and not name:
            continue
        data = "\n".join(data_lines)
        try:
            out.append((name, json.loads(data)))
        except ValueError:
            out.append((name, data))
    return out


def error_message(dialect: Dialect, body: Any) -> str:
    """The message of an error body in `dialect`; AssertionError when the body has another shape."""
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    if dialect == "anthropic":
        assert body.get("type") == "error", f"not an Anthropic error envelope: {body!r}"
        err = body.get("error")
        assert isinstance(err, dict) and isinstance(err.get("type"), str) and err["type"], body
    else:
        err = body.get("error")
        assert isinstance(err, dict) and "type" in err, f"not an OpenAI error envelope: {body!r}"
    message = err.get("message")
    assert isinstance(message, str) and message.strip(), f"error without a message: {body!r}"
    return message


def assert_no_internals(text: str) -> None:
    for word in INTERNALS:
        assert word not in text, f"{word!r} reached the client: {text[:600]!r}"


def assert_error_answer(seen: Seen, dialect: Dialect, statuses: set[int] | range) -> str:
    """A non-2xx JSON answer with a status in `statuses`, in the caller's dialect; returns its message."""
    assert seen.status in statuses, f"status {seen.status} not in {statuses}: {seen.text[:600]}"
    assert "application/json" in seen.headers.get("content-type", ""), seen.headers
    message = error_message(dialect, seen.json())
    assert_no_internals(seen.text)
    return message


def stream_error(events: list[tuple[str, Any]]) -> str | None:
    """The message of the error event that ends a stream, in any of the three stream dialects."""
    for name, data in reversed(events):
        if data == "[DONE]" or not isinstance(data, dict):
            continue
        kind = data.get("type") or name
        if kind == "error" and isinstance(data.get("error"), dict):  # Anthropic / Responses `error` event
            return str(data["error"].get("message") or "")
        if kind == "error" and isinstance(data.get("message"), str):  # Responses error event, flat
            return data["message"]
        if kind == "response.failed":
            err = (data.get("response") or {}).get("error") or {}
            return str(err.get("message") or "")
        if "error" in data and isinstance(data["error"], dict):  # chat completions chunk
            return str(data["error"].get("message") or "")
        return None
    return None


def stream_completed(events: list[tuple[str, Any]]) -> bool:
    """True when the stream carries its dialect's own successful end."""
    names = {(data.get("type") if isinstance(data, dict) else None) or name for name, data in events}
    if "message_stop" in names or "response.completed" in names:
        return True
    finished = any(isinstance(d, dict) and any((c.get("finish_reason") for c in d.get("choices") or []))
                   for _, d in events)
    return finished and any(d == "[DONE]" for _, d in events)
