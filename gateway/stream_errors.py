"""Plain words for transport failures, in error bodies and in error events inside streams.

When an upstream connection dies mid-answer, LiteLLM puts aiohttp's exception text into the error
(`Response payload is not completed: <TransferEncodingError: 400, ...>`); in a stream it arrives as
an `error` / `response.failed` event. Clients show that text to people, so it is replaced with a
sentence that says what happened. Only error events are touched; a chunk without the word "error"
is passed on as it is (one substring test per chunk).
"""

from __future__ import annotations

import json
import re

CUT = "The upstream connection closed before the response was complete; retry the request."
UNREACHABLE = "The upstream service could not be reached; retry the request."

_CUT_MARKERS = (
    "Response payload is not completed", "TransferEncodingError", "ClientPayloadError", "Server disconnected",
    "ServerDisconnectedError", "Connection reset", "peer closed connection", "incomplete chunked read",
    "RemoteProtocolError", "ReadError", "ContentLengthError",
)
_CONNECT_MARKERS = ("Cannot connect to host", "ClientConnectorError", "ConnectError", "Connection refused", "ConnectTimeout")
_MESSAGE = re.compile(rb'"message":\s*"((?:[^"\\]|\\.)*)"')


def transport_message(text: str) -> str | None:
    if any(m in text for m in _CONNECT_MARKERS):
        return UNREACHABLE
    if any(m in text for m in _CUT_MARKERS):
        return CUT
    return None


def clean_stream_chunk(chunk: bytes) -> bytes:
    if b"error" not in chunk and b"failed" not in chunk:
        return chunk

    def plain(match: re.Match[bytes]) -> bytes:
        text = match.group(1).decode("utf-8", "replace")
        replacement = transport_message(text)
        if replacement is None:
            return match.group(0)
        return b'"message": ' + json.dumps(replacement).encode()

    return _MESSAGE.sub(plain, chunk)
