import json

import pytest

from custom_providers.codex.stream import StreamFailed, StreamIncomplete, aggregate, iter_events


def sse(*events, with_event_lines=True):
    out = []
    for e in events:
        if with_event_lines:
            out.append(f"event: {e['type']}")
        out.append(f"data: {json.dumps(e)}")
        out.append("")
    return "\n".join(out) + "\n"


MSG = {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}
CALL = {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "read", "arguments": "{}"}


def test_completed_response_is_returned_with_its_output():
    body = sse({"type": "response.created", "response": {"id": "r"}},
               {"type": "response.output_item.done", "output_index": 0, "item": MSG},
               {"type": "response.completed", "response": {"id": "r", "status": "completed", "output": [MSG]}})
    assert aggregate(body)["output"] == [MSG]


def test_empty_completed_output_is_rebuilt_from_items_in_index_order():
    body = sse({"type": "response.output_item.done", "output_index": 1, "item": CALL},
               {"type": "response.output_item.done", "output_index": 0, "item": MSG},
               {"type": "response.completed", "response": {"id": "r", "output": []}})
    assert aggregate(body)["output"] == [MSG, CALL]


def test_data_only_sse_with_done_marker_is_understood():
    body = sse({"type": "response.completed", "response": {"id": "r", "output": [MSG]}}, with_event_lines=False)
    assert aggregate(body + "data: [DONE]\n\n")["id"] == "r"


def test_incomplete_response_is_a_terminal_event():
    body = sse({"type": "response.incomplete", "response": {"id": "r", "status": "incomplete", "output": []}})
    assert aggregate(body)["status"] == "incomplete"


def test_stream_without_completion_is_an_error_not_an_empty_answer():
    body = sse({"type": "response.created", "response": {"id": "r"}},
               {"type": "response.output_text.delta", "delta": "hel"})
    with pytest.raises(StreamIncomplete) as info:
        aggregate(body)
    assert info.value.status_code == 408
    assert "before response.completed" in info.value.message


def test_empty_body_is_an_error():
    with pytest.raises(StreamIncomplete):
        aggregate("")


@pytest.mark.parametrize("error, status", [
    ({"code": "rate_limit_exceeded", "message": "slow"}, 429),
    ({"code": "context_length_exceeded", "message": "long"}, 400),
    ({"code": "server_error", "message": "boom"}, 502),
])
def test_response_failed_becomes_an_error_with_a_matching_status(error, status):
    body = sse({"type": "response.failed", "response": {"id": "r", "status": "failed", "error": error}})
    with pytest.raises(StreamFailed) as info:
        aggregate(body)
    assert (info.value.status_code, info.value.message) == (status, error["message"])


def test_error_event_becomes_an_error():
    body = sse({"type": "error", "code": "invalid_request_error", "message": "bad item"})
    with pytest.raises(StreamFailed) as info:
        aggregate(body)
    assert (info.value.status_code, info.value.message) == (400, "bad item")


def test_garbage_lines_are_skipped():
    body = "event: x\ndata: {not json\n\n" + sse({"type": "response.completed", "response": {"id": "r"}})
    assert [e["type"] for e in iter_events(body)] == ["response.completed"]
