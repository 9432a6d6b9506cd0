"""gateway.stream_errors.StreamReader: streams pass as their bytes, and a cut stream ends with an error."""

from __future__ import annotations

import json

import pytest

from custom_providers.sse import iter_events
from gateway.stream_errors import CUT, StreamReader, stream_kind

TRICKY_TEXT = "the parser stops at event: message_stop\n\nevent: error\ndata: {} and data: [DONE]"


def anthropic_event(name: str, **data: object) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()


def relay(kind: str, chunks: list[bytes]) -> bytes:
    reader = StreamReader(kind)
    return b"".join(reader.feed(c) for c in chunks) + reader.finish()


def test_paths_choose_the_dialect() -> None:
    assert [stream_kind(p) for p in ("/v1/messages", "/v1/responses", "/v1/chat/completions")] == [
        "anthropic", "responses", "chat"]


def test_a_complete_stream_passes_byte_for_byte_whatever_the_chunking() -> None:
    stream = (anthropic_event("message_start", message={"id": "m", "unknown": [1]}) + b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
              + anthropic_event("brand_new", x=1) + anthropic_event("content_block_delta", delta={"text": TRICKY_TEXT})
              + anthropic_event("message_stop"))
    for size in (1, 7, 64, len(stream)):
        chunks = [stream[i:i + size] for i in range(0, len(stream), size)]
        assert relay("anthropic", chunks) == stream


@pytest.mark.parametrize("kind, start, closing_type", [
    ("anthropic", anthropic_event("message_start", message={}), "error"),
    ("responses", b'data: {"type":"response.created","response":{}}\n\n', "response.failed"),
    ("chat", b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n', None),
])
def test_text_mentioning_the_end_does_not_end_the_stream(kind: str, start: bytes, closing_type: str | None) -> None:
    delta = {"type": "content_block_delta", "delta": {"text": TRICKY_TEXT}} if kind != "chat" else {
        "choices": [{"delta": {"content": TRICKY_TEXT + ' "error" [DONE]'}}]}
    body = start + b"data: " + json.dumps(delta).encode() + b"\n\n"
    out = relay(kind, [body])
    assert out.startswith(body)
    closing = list(iter_events(out[len(body):]))
    assert len(closing) == 1
    payload = closing[0].json()
    if closing_type is None:
        assert payload["error"]["message"] == CUT
    else:
        assert closing[0].type == closing_type and CUT in json.dumps(payload)


def test_a_fragment_left_by_a_cut_is_dropped_before_the_closing_event() -> None:
    out = relay("anthropic", [anthropic_event("message_start", message={}), b'event: message_stop\ndata: {"ty'])
    events = list(iter_events(out))
    assert [e.type for e in events] == ["message_start", "error"]


@pytest.mark.parametrize("kind, end", [
    ("chat", b"data: [DONE]\n\n"),
    ("responses", b'data: {"type":"response.completed","response":{}}\n\n'),
    ("anthropic", b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'),
])
def test_terminal_and_error_events_end_the_stream(kind: str, end: bytes) -> None:
    assert relay(kind, [end]) == end


def test_transport_text_in_an_error_event_becomes_plain_words() -> None:
    raw = (b'data: {"error":{"message":"litellm.APIConnectionError: Response payload is not completed: '
           b'<TransferEncodingError: 400>","type":null,"code":"500"}}\n\n')
    out = relay("chat", [raw])
    (event,) = iter_events(out)
    assert event.json() == {"error": {"message": CUT, "type": None, "code": "500"}}
