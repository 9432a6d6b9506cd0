"""Plain words for transport failures, in error bodies and in error events inside streams.

When an upstream connection dies mid-answer, LiteLLM puts aiohttp's exception text into the error
(`Response payload is not completed: <TransferEncodingError: 400, ...>`); in a stream it arrives as
an `error` / `response.failed` event. Clients show that text to people, so it is replaced with a
sentence that says what happened. Only error events are touched; every other event is passed on as
its exact bytes (gateway/stream_errors.StreamReader reads the stream with custom_providers/sse.py).

An upstream that answers 200 with a body that is not what its API promises (truncated JSON, garbage
SSE) is reported the same way: a 502 with a sentence, not the parser's exception or the raw fragment.
"""

from __future__ import annotations

import json
import re
from typing import Any

from custom_providers.sse import Event, SSEDecoder
from custom_providers.transport import is_cut

CUT = "The upstream connection closed before the response was complete; retry the request."
UNREACHABLE = "The upstream service could not be reached; retry the request."
MALFORMED = "The upstream answered with a response that could not be read; retry the request."

_MALFORMED_MARKERS = ("Unable to get json response", "JSONDecodeError", "Expecting value: line")
_CONNECT_MARKERS = ("Cannot connect to host", "ClientConnectorError", "ConnectError", "Connection refused", "ConnectTimeout")
_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)+")


def transport_message(text: str) -> str | None:
    if any(m in text for m in _CONNECT_MARKERS):
        return UNREACHABLE
    if is_cut(text):
        return CUT
    if any(m in text for m in _MALFORMED_MARKERS):
        return MALFORMED
    return None


def _plain(message: Any) -> Any:
    """An error message in plain words: transport failures named, LiteLLM's class prefix removed."""
    if not isinstance(message, str):
        return message
    return transport_message(message) or _LITELLM_PREFIX.sub("", message)


def _clean_in_place(payload: dict[str, Any]) -> bool:
    """Put an error event's messages in plain words; True when something changed.

    Error events carry the message in one of three places: `error.message` (Anthropic, LiteLLM's
    chat errors), `response.error.message` (Responses `response.failed`) or `message` (a bare
    Responses `error` event).
    """
    response = payload.get("response")
    holders = (payload, payload.get("error"), response.get("error") if isinstance(response, dict) else None)
    changed = False
    for holder in holders:
        if isinstance(holder, dict) and isinstance(holder.get("message"), str):
            plain = _plain(holder["message"])
            if plain != holder["message"]:
                holder["message"] = plain
                changed = True
    return changed


_ERROR_TYPES = frozenset({"error", "response.failed"})
# The event after which a stream of each dialect is complete; an error event ends it too.
TERMINAL_EVENTS: dict[str, frozenset[str]] = {
    "anthropic": frozenset({"message_stop"}),
    "responses": frozenset({"response.completed", "response.incomplete"}),
    "chat": frozenset(),  # ends with `data: [DONE]`
}


def stream_kind(path: str) -> str:
    """Which stream dialect a route answers in."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.endswith("/responses"):
        return "responses"
    return "chat"


def closing_event(kind: str, message: str = CUT) -> bytes:
    """The error event that ends a cut (or stopped) stream, in the dialect the client reads."""
    if kind == "anthropic":
        data: dict[str, Any] = {"type": "error", "error": {"type": "api_error", "message": message}}
        return b"event: error\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
    if kind == "responses":
        data = {"type": "response.failed", "response": {"object": "response", "status": "failed", "output": [],
                                                         "error": {"code": "server_error", "message": message}}}
        return b"event: response.failed\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
    data = {"error": {"message": message, "type": "api_error", "param": None, "code": "upstream_unavailable"}}
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _error_message(payload: Any) -> str:
    if isinstance(payload, dict):
        response = payload.get("response")
        for holder in (payload.get("error"), response.get("error") if isinstance(response, dict) else None, payload):
            if isinstance(holder, dict) and isinstance(holder.get("message"), str):
                return holder["message"]
    return "error event"


class StreamReader:
    """Reads a 2xx SSE answer event by event on its way to the client.

    - Events pass as their exact bytes; only an error event whose message is the HTTP client's
      exception text (or carries LiteLLM's class prefix) is re-written, with plain words.
    - The reader notes the stream's end: the dialect's terminal event, an error event, or
      `data: [DONE]`. A stream that stops before any of these (the upstream closed it early, or sent
      garbage and stopped) is closed with an error event: the SDKs and agents would otherwise read a
      lost turn as a complete answer. Words inside the answer's text never count: the decoder reads
      the event's name, not its bytes.
    - A fragment of an event left when the stream stops is not passed on: it is not an event, and
      the client's parser would read it glued to the closing error event.
    """

    __slots__ = ("_decoder", "_kind", "_terminal", "ended", "failure")

    def __init__(self, kind: str) -> None:
        self._decoder = SSEDecoder()
        self._kind = kind
        self._terminal = TERMINAL_EVENTS.get(kind, frozenset())
        self.ended = False
        self.failure: str | None = None  # the message of the error event that ended the stream

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        for event in self._decoder.feed(chunk):
            out.append(self._read(event))
        return b"".join(out)

    def finish(self) -> bytes:
        """What to send when the answer ends: nothing, or the closing error event."""
        if self.ended:
            return b""
        self.ended = True
        self.failure = CUT
        return closing_event(self._kind)

    def _read(self, event: Event) -> bytes:
        if event.is_blank:
            return event.raw
        if event.data == "[DONE]":
            self.ended = True
            return event.raw
        name = event.event
        payload: Any = None
        # Chat chunks have no name; only an error needs their JSON. Data-only Responses events
        # carry their name inside the JSON.
        if name is None and (self._kind != "chat" or '"error"' in (event.data or "")):
            payload = event.json()
            if isinstance(payload, dict) and isinstance(payload.get("type"), str):
                name = payload["type"]
        if name in self._terminal:
            self.ended = True
            return event.raw
        if name not in _ERROR_TYPES and not (name is None and isinstance(payload, dict) and "error" in payload):
            return event.raw
        self.ended = True
        if payload is None:
            payload = event.json()
        if not isinstance(payload, dict) or not _clean_in_place(payload):
            self.failure = _error_message(payload)
            return event.raw
        self.failure = _error_message(payload)
        head = f"event: {event.event}\n".encode() if event.event else b""
        return head + b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
