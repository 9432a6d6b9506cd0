"""Plain words for transport failures, in error bodies and in error events inside streams.

When an upstream connection dies mid-answer, LiteLLM puts aiohttp's exception text into the error
(`Response payload is not completed: <TransferEncodingError: 400, ...>`); in a stream it arrives as
an `error` / `response.failed` event. Clients show that text to people, so it is replaced with a
sentence that says what happened. Only error events are touched; a chunk without the word "error"
is passed on as it is (one substring test per chunk).

An upstream that answers 200 with a body that is not what its API promises (truncated JSON, garbage
SSE) is reported the same way: a 502 with a sentence, not the parser's exception or the raw fragment.
"""

from __future__ import annotations

import json
import re

CUT = "The upstream connection closed before the response was complete; retry the request."
UNREACHABLE = "The upstream service could not be reached; retry the request."
MALFORMED = "The upstream answered with a response that could not be read; retry the request."

_CUT_MARKERS = (
    "Response payload is not completed", "TransferEncodingError", "ClientPayloadError", "Server disconnected",
    "ServerDisconnectedError", "Connection reset", "peer closed connection", "incomplete chunked read",
    "RemoteProtocolError", "ReadError", "ContentLengthError",
    # LiteLLM's Responses->chat bridge when a Codex stream ends without a terminal event
    "closed the responses stream before any terminal event",
)
_MALFORMED_MARKERS = ("Unable to get json response", "JSONDecodeError", "Expecting value: line")
_CONNECT_MARKERS = ("Cannot connect to host", "ClientConnectorError", "ConnectError", "Connection refused", "ConnectTimeout")
_MESSAGE = re.compile(rb'"message":\s*"((?:[^"\\]|\\.)*)"')
# "litellm.APIConnectionError: " in front of an upstream's message inside a stream error event
_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)+")


def transport_message(text: str) -> str | None:
    if any(m in text for m in _CONNECT_MARKERS):
        return UNREACHABLE
    if any(m in text for m in _CUT_MARKERS):
        return CUT
    if any(m in text for m in _MALFORMED_MARKERS):
        return MALFORMED
    return None


def clean_stream_chunk(chunk: bytes) -> bytes:
    if b"error" not in chunk and b"failed" not in chunk:
        return chunk

    def plain(match: re.Match[bytes]) -> bytes:
        text = match.group(1).decode("utf-8", "replace")
        replacement = transport_message(text)
        if replacement is None:
            stripped = _LITELLM_PREFIX.sub("", text)
            if stripped == text:
                return match.group(0)
            return b'"message": "' + stripped.encode() + b'"'  # still JSON-escaped as it came
        return b'"message": ' + json.dumps(replacement).encode()

    return _MESSAGE.sub(plain, chunk)


class MessagesStreamEnd:
    """Watches a 200 /v1/messages stream for its end: `message_stop` or an `error` event.

    LiteLLM relays the Anthropic stream as the upstream sent it; an upstream that stops (or sends
    garbage and stops) without either leaves the client with a stream that just ends, which the SDKs
    and Claude Code read as a lost turn or a parse failure. The gateway then closes the stream with an
    error event. A short tail of the previous chunk is kept because chunk boundaries are arbitrary.
    """

    __slots__ = ("_tail", "ended")

    def __init__(self) -> None:
        self._tail = b""
        self.ended = False

    def feed(self, chunk: bytes) -> None:
        if self.ended or not chunk:
            return
        window = self._tail + chunk
        if b"message_stop" in window or b"event: error" in window:
            self.ended = True
        self._tail = window[-16:]

    @staticmethod
    def closing_event() -> bytes:
        data = {"type": "error", "error": {"type": "api_error", "message": CUT}}
        return b"event: error\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
