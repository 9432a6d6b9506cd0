"""Folding the Codex SSE stream into one Responses object for clients that did not ask to stream.

The backend only streams. A non-streaming client must get the `response.completed` object, and a stream
that stops before it must be an error: an empty 200 would look like a model that said nothing, and agents
would carry on with a lost turn. Newer backends may leave `response.output` empty in the completed
event, so the output is rebuilt from the `response.output_item.done` events (docs/architecture.md, "Codex shaping").
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from custom_providers import sse

TERMINAL_OK = ("response.completed", "response.incomplete")
INCOMPLETE_MESSAGE = "stream error: stream disconnected before completion: stream closed before response.completed"

_STATUS_BY_WORD = (
    ("usage_limit", 429), ("rate_limit", 429), ("insufficient_quota", 429), ("context_length", 400),
    ("invalid_request", 400), ("authentication", 401), ("permission", 403), ("not_found", 404),
)


class StreamError(Exception):
    """The upstream stream did not deliver a usable response; carries the HTTP status to report."""

    def __init__(self, message: str, status_code: int, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code


class StreamIncomplete(StreamError):
    """The stream ended (or was cut) before a terminal event."""

    def __init__(self, message: str = INCOMPLETE_MESSAGE) -> None:
        super().__init__(message, 408, "stream_incomplete")


class StreamFailed(StreamError):
    """The backend reported `response.failed` or an `error` event inside a 200 stream."""


def iter_events(body: str | bytes) -> Iterator[dict[str, Any]]:
    """JSON payloads of a whole SSE body, in order; `[DONE]`, comments and unparsable data are skipped."""
    raw = body.encode() if isinstance(body, str) else body
    for event in sse.iter_events(raw):
        payload = event.json()
        if isinstance(payload, dict):
            yield payload


def aggregate(body: str | bytes) -> dict[str, Any]:
    """The terminal response object of an SSE body, with `output` rebuilt when the backend left it empty."""
    items: dict[int, dict[str, Any]] = {}
    for event in iter_events(body):
        kind = event.get("type")
        if kind == "response.output_item.done" and isinstance(event.get("item"), dict):
            items[int(event.get("output_index", len(items)))] = event["item"]
        elif kind in TERMINAL_OK and isinstance(event.get("response"), dict):
            response = dict(event["response"])
            if not response.get("output") and items:
                response["output"] = [items[i] for i in sorted(items)]
            return response
        elif kind in ("response.failed", "error"):
            raise failure_from_event(event)
    raise StreamIncomplete()


def failure_from_event(event: dict[str, Any]) -> StreamFailed:
    error = event.get("error") or (event.get("response") or {}).get("error")
    if error is None:  # a bare `error` event carries its fields at the top level
        error = {k: event[k] for k in ("message", "code", "type", "status_code") if k in event and k != "type"}
        if "code" not in error and event.get("type") != "error":
            error["type"] = event.get("type")
    if not isinstance(error, dict):
        error = {"message": str(error)}
    message = str(error.get("message") or event.get("message") or "The upstream response failed.")
    code = error.get("code") or event.get("code")
    return StreamFailed(message, status_for_error(error, event), str(code) if code is not None else None)


def status_for_error(error: dict[str, Any], event: dict[str, Any] | None = None) -> int:
    for source in (error, event or {}):
        for key in ("status_code", "status"):
            value = source.get(key)
            if isinstance(value, int) and 400 <= value <= 599:
                return value
    words = " ".join(str(error.get(k) or "") for k in ("code", "type")).lower()
    for word, status in _STATUS_BY_WORD:
        if word in words:
            return status
    return 502
