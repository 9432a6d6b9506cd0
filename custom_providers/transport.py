"""How an upstream connection that died mid-answer shows up in exception text, in one list.

LiteLLM hands on the HTTP client's own words (aiohttp's `Response payload is not completed:
<TransferEncodingError ...>`, httpx's `peer closed connection without sending complete message body`);
a provider turns them into its own error, the front layer into a sentence for people
(gateway/stream_errors.py). Both ask `is_cut`.
"""

from __future__ import annotations

from custom_providers.sse import CUT_BEFORE_TERMINAL

CUT_MARKERS = (
    "Response payload is not completed", "TransferEncodingError", "ClientPayloadError", "Server disconnected",
    "ServerDisconnectedError", "Connection reset", "peer closed connection", "incomplete chunked read",
    "RemoteProtocolError", "ReadError", "ContentLengthError",
    # LiteLLM's Responses->chat bridge when a Codex stream ends without a terminal event
    "closed the responses stream before any terminal event",
    CUT_BEFORE_TERMINAL,
)


def is_cut(text: str) -> bool:
    """The text names a connection that closed before the answer was complete (the libraries' exact
    spelling: matched case-sensitively, so `ThreadError` is not a `ReadError`)."""
    return any(marker in text for marker in CUT_MARKERS)
