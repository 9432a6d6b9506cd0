"""The SSE decoder: events as SSE defines them, and the stream's bytes given back exactly."""

from __future__ import annotations

import json
import random

import pytest

from custom_providers.sse import SSEDecoder, iter_events

ANTHROPIC = (
    b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"new_field\":1}}\n\n"
    b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
    b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\","
    b"\"text\":\"event: error\\ndata: message_stop\\n\\n\"}}\n\n"
    b"event: brand_new_event\ndata: {\"type\":\"brand_new_event\",\"x\":[1,2]}\n\n"
    b": a comment line\n\n"
    b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
)


def _decode_in_pieces(stream: bytes, cuts: list[int]) -> tuple[list, bytes]:
    decoder, events, last = SSEDecoder(), [], 0
    for cut in sorted(cuts) + [len(stream)]:
        events += decoder.feed(stream[last:cut])
        last = cut
    pending = decoder.pending
    return events + decoder.close(), pending


@pytest.mark.parametrize("seed", range(30))
def test_any_chunking_gives_the_same_events_and_the_exact_bytes(seed: int) -> None:
    rng = random.Random(seed)
    stream = ANTHROPIC.replace(b"\n", b"\r\n") if seed % 3 == 1 else ANTHROPIC.replace(b"\n", b"\r") if seed % 3 == 2 else ANTHROPIC
    cuts = rng.sample(range(1, len(stream)), rng.randint(1, 40))
    events, pending = _decode_in_pieces(stream, cuts)
    assert b"".join(e.raw for e in events) == stream
    if seed % 3 == 2:  # a final CR may still become CRLF: the last event waits for the next byte
        assert pending == events[-1].raw
    else:
        assert pending == b""
    assert [e.type for e in events] == [
        "message_start", "ping", "content_block_delta", "brand_new_event", None, "message_stop"]


def test_text_that_mentions_stream_words_is_not_an_event() -> None:
    events = list(iter_events(ANTHROPIC))
    delta = events[2]
    assert delta.event == "content_block_delta"
    assert json.loads(delta.data)["delta"]["text"] == "event: error\ndata: message_stop\n\n"
    assert [e.type for e in events].count("message_stop") == 1
    assert "error" not in [e.type for e in events]


def test_fields_follow_the_sse_rules() -> None:
    events = SSEDecoder().feed(b"id: 7\nretry: 1500\ndata:first\ndata:  second\nunknown: kept in raw\n\n")
    (event,) = events
    assert (event.id, event.retry, event.event) == ("7", 1500, None)
    assert event.data == "first\n second"  # one leading space removed, no more
    assert b"unknown: kept in raw" in event.raw


def test_data_only_events_are_named_by_their_json_type() -> None:
    events = list(iter_events(b'data: {"type":"response.completed","response":{}}\n\ndata: [DONE]\n\n'))
    assert [e.type for e in events] == ["response.completed", None]
    assert events[1].data == "[DONE]" and events[1].json() is None


def test_a_cut_event_stays_pending_and_is_not_dispatched() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b'event: ping\ndata: {}\n\nevent: message_stop\ndata: {"type":"mess')
    assert [e.type for e in events] == ["ping"]
    assert decoder.pending == b'event: message_stop\ndata: {"type":"mess'


def test_a_crlf_split_across_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == []
    (event,) = decoder.feed(b"\n")
    assert event.data == "a" and event.raw == b"data: a\r\n\r\n"


def test_comment_only_blocks_are_blank() -> None:
    (event,) = SSEDecoder().feed(b": ping\n\n")
    assert event.is_blank and event.type is None
