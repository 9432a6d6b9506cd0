"""The Codex backend's Responses stream passed on as it was sent, event by event, byte for byte.

Stock, LiteLLM's Responses path (`ResponsesAPIStreamingIterator`, built by name in
`litellm/llms/custom_httpx/llm_http_handler.py` for every streamed attempt) parses each upstream event
into its own objects, and the entry points write those back as data-only SSE: the `event:` lines are
gone, keys are added, `data: [DONE]` is appended. When the client itself spoke Responses to a Codex
pool (`CodexResponsesConfig.relay_stream`, custom_providers/codex/litellm_adapter.py), `install()`
has LiteLLM build `RelayedResponsesStream` instead. It reads the upstream's bytes with
custom_providers/sse.py and yields each event as a `RelayedEvent`: the event's exact bytes (a `bytes`),
named by its `type`. Each event is still handed to LiteLLM's own processing (`_process_chunk`), so
usage, cost, success logging and the terminal event are noted exactly as before; only what reaches
the client changes. Both entry points write `bytes` chunks as they are (gateway/model_routes.py, and
LiteLLM's proxy `async_data_generator`).

Rules, in the order a stream meets them:
- comments and blank lines (`: keep-alive`) travel with the next event, so the Router's hold on
  lifecycle events (`response.created`, ... until the first output) keeps them in place;
- before the first output event, an `error` / `response.failed` event or a stream that stops
  raises as stock, so the Router fails over to the next account (nothing reached the client yet);
- after it, the upstream's own `error` / `response.failed` event is relayed as sent, and a stream
  that stops before its terminal event (clean end or broken connection) ends with a
  `response.failed` event: a fragment of an event left by the cut is dropped, never glued to it;
- the one edit: tool names the request shortened for the backend are put back
  (custom_providers/codex/shaping.py), which re-encodes only the events that carry one.

Anything that wants the raw events of one Router-chosen attempt (the WebSocket transport, say) gets
them by calling the Router with `stream=True` for a Responses client: the chunks are `RelayedEvent`s.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from litellm.llms.custom_httpx import llm_http_handler
from litellm.responses.streaming_iterator import PRE_OUTPUT_LIFECYCLE_EVENT_TYPES, ResponsesAPIStreamingIterator

from custom_providers.codex import shaping
from custom_providers.sse import CUT_BEFORE_TERMINAL, Event, SSEDecoder

TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
FAILED = frozenset({"response.failed", "error"})
_STOCK = llm_http_handler.ResponsesAPIStreamingIterator


class RelayedEvent(bytes):
    """One upstream event as it was on the wire (plus any comments before it), named by its type.

    `type` is what LiteLLM's Router reads to hold lifecycle events back while it may still fail over.
    """

    type: str | None
    event: Event | None

    def __new__(cls, raw: bytes, event: Event | None = None) -> "RelayedEvent":
        chunk = super().__new__(cls, raw)
        chunk.event = event
        chunk.type = event.type if event is not None else None
        return chunk


def closing_event(response_id: str | None, message: str = CUT_BEFORE_TERMINAL) -> bytes:
    """The `response.failed` event that ends a stream cut before its terminal event."""
    data = {"type": "response.failed", "response": {
        "id": response_id or f"resp_{uuid.uuid4().hex}", "object": "response", "created_at": int(time.time()),
        "status": "failed", "output": [], "error": {"code": "server_error", "message": message}}}
    return b"event: response.failed\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


class RelayedResponsesStream(ResponsesAPIStreamingIterator):  # type: ignore[misc]
    """LiteLLM's Responses stream iterator for a relayed call: LiteLLM's bookkeeping, the upstream's bytes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunks: AsyncIterator[bytes] = self.response.aiter_bytes()
        self._decoder = SSEDecoder()
        self._ready: list[Event] = []
        self._held = b""  # comments waiting for the next event
        self._response_id: str | None = None
        self._ended = False  # a terminal event was relayed, or the closing event was
        self._done = False

    async def _next_event(self) -> Any:  # called by the stock __anext__
        while True:
            if self._done:
                raise StopAsyncIteration
            event = await self._next_wire_event()
            if event is None:
                return self._at_end()
            if event.is_blank:
                self._held += event.raw
                continue
            chunk = self._relay(event)
            if chunk is not None:
                return chunk

    async def _next_wire_event(self) -> Event | None:
        """The next complete event from the upstream; None when the stream is over (or broken)."""
        while not self._ready:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                return None
            except httpx.TransportError:
                return None  # the connection broke: reported by _at_end, in the client's dialect
            self._check_max_streaming_duration()
            self._ready = self._decoder.feed(chunk)
        return self._ready.pop(0)

    def _relay(self, event: Event) -> RelayedEvent | None:
        name = event.type
        result = self._process_chunk(event.data) if event.data and event.data[0] == "{" else None
        if name in FAILED and not self._output_started:
            self._maybe_raise_for_error_event(result)  # the Router fails over, or the client gets the error
        if name == "response.created" and result is not None:
            self._response_id = getattr(getattr(result, "response", None), "id", None)
        self._ended = self._ended or name in TERMINAL
        raw = self._restored(event)
        chunk = RelayedEvent(self._held + raw, event)
        self._held = b""
        self._note_yielded_event(chunk)
        if name in FAILED:
            self._handle_failure(self._map_error_event_exception(_error_of(event)))
        return chunk

    def _restored(self, event: Event) -> bytes:
        mapping = getattr(self.responses_api_provider_config, "short_to_original", None)
        payload = event.json() if mapping else None
        if not isinstance(payload, dict):
            return event.raw
        restored = shaping.restore_tool_names(copy.deepcopy(payload), mapping)
        if restored == payload:
            return event.raw
        head = f"event: {event.event}\n" if event.event else ""
        return f"{head}data: {json.dumps(restored, separators=(',', ':'))}\n\n".encode()

    def _at_end(self) -> RelayedEvent:
        self.finished = True
        if self._ended:
            self._done = True
            if self._held:  # trailing comments after the terminal event
                held, self._held = self._held, b""
                return RelayedEvent(held)
            raise StopAsyncIteration
        if not self._output_started:
            self._raise_if_ended_without_terminal_event()  # before any output: the Router fails over
        self._done = True
        self._handle_failure(self._stream_ended_early_error())
        held, self._held = self._held, b""
        return RelayedEvent(held + closing_event(self._response_id), None)

    def _note_yielded_event(self, event: Any) -> None:
        self._yielded_first_chunk = True
        if getattr(event, "type", None) not in PRE_OUTPUT_LIFECYCLE_EVENT_TYPES:
            self._output_started = True


def _error_of(event: Event) -> Any:
    payload = event.json()
    if not isinstance(payload, dict):
        return {}
    if isinstance(payload.get("response"), dict) and payload["response"].get("error") is not None:
        return payload["response"]["error"]
    return payload.get("error") or {k: payload[k] for k in ("message", "code") if k in payload}


def _choose(*args: Any, **kwargs: Any) -> Any:
    """What LiteLLM's handler builds for a streamed Responses attempt: the relay for a relayed call."""
    config = kwargs.get("responses_api_provider_config")
    if getattr(config, "relay_stream", False):
        return RelayedResponsesStream(*args, **kwargs)
    return _STOCK(*args, **kwargs)


def install() -> None:
    """Have LiteLLM's Responses handler build `RelayedResponsesStream` for relayed calls (idempotent)."""
    llm_http_handler.ResponsesAPIStreamingIterator = _choose


__all__ = ["RelayedEvent", "RelayedResponsesStream", "closing_event", "install"]
