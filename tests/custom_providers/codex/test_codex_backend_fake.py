"""The fake Codex backend refuses what the real one refuses, so passing tests mean something."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.fakes.codex_backend import UNSUPPORTED

GOOD = {"model": "gpt-5.1-codex", "instructions": "x", "input": "hi", "stream": True, "store": False}


@pytest.fixture
def post(codex_server, alice):
    def post(body, *, grant=alice, account=None, **headers):
        with httpx.Client(base_url=codex_server.url, timeout=10, trust_env=False) as client:
            return client.post("/backend-api/codex/responses", json=body, headers={
                "authorization": f"Bearer {grant.access_token}",
                "chatgpt-account-id": account or grant.account_id, **headers})
    return post


def events(response):
    return [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]


def test_good_request_streams_named_events_with_usage(post):
    response = post(GOOD)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert "event: response.created\n" in response.text
    final = events(response)[-1]
    assert final["type"] == "response.completed" and final["response"]["instructions"] == "x"
    usage = final["response"]["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert set(usage) == {"input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details",
                          "total_tokens"}


@pytest.mark.parametrize("change, detail", [
    ({"stream": False}, "Stream must be set to true"),
    ({"store": True}, "Store must be set to false"),
    ({"instructions": ""}, "Instructions are required"),
    ({"model": "gpt-4o"}, "Unsupported model: gpt-4o"),
] + [({name: 1}, f"Unsupported parameter: {name}") for name in UNSUPPORTED])
def test_body_rules_answer_fastapi_style_400s(post, change, detail):
    response = post({**GOOD, **change})
    assert (response.status_code, response.json()) == (400, {"detail": detail})


def test_auth_rules(post, codex_book, alice, bob):
    expired = codex_book.issue("dave@example.com", "acct-dave")
    codex_book.expire(expired.access_token)
    assert post(GOOD, grant=expired).json()["error"]["code"] == "token_expired"
    assert post(GOOD, account=bob.account_id).json()["error"]["code"] == "account_mismatch"
    assert post(GOOD, account=bob.account_id).status_code == 401


@pytest.mark.parametrize("items, needle", [
    ([{"type": "item_reference", "id": "msg_1"}], "Items are not persisted"),
    ([{"type": "function_call_output", "call_id": "c9", "output": "x"}],
     "No tool call found for function call output with call_id c9"),
    ([{"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAforged.abc"}],
     "invalid_encrypted_content"),
])
def test_input_rules(post, items, needle):
    response = post({**GOOD, "input": items})
    assert response.status_code == 400 and needle in response.text


def test_tool_rules(post):
    nested = post({**GOOD, "tools": [{"type": "function", "function": {"name": "read"}}]})
    assert nested.json()["error"]["message"] == "Missing required parameter: 'tools[0].name'."
    long = post({**GOOD, "tools": [{"type": "function", "name": "n" * 65, "parameters": {}}]})
    assert long.status_code == 400 and "maximum length 64" in long.text
    assert post({**GOOD, "previous_response_id": "resp_1"}).json()["error"]["code"] == "previous_response_not_found"


def test_issued_reasoning_replays_for_the_same_account_only(post, codex_backend, alice, bob):
    item = next(e["item"] for e in events(post(GOOD)) if e["type"] == "response.output_item.done")
    assert post({**GOOD, "input": [item]}).status_code == 200
    assert post({**GOOD, "input": [item]}, grant=bob).status_code == 400


def test_scripted_and_sticky_failures(post, codex_backend, alice):
    codex_backend.recorder.script({"status": 429, "resets_at": 1_900_000_000})
    assert post(GOOD).json()["error"] == {"type": "usage_limit_reached", "message": "You've hit your usage limit.",
                                          "plan_type": "plus", "resets_at": 1_900_000_000}
    codex_backend.set_mode(alice.email, {"mode": "gzip_error", "status": 502})
    raw = post(GOOD)
    assert raw.status_code == 502 and raw.headers["content-encoding"] == "gzip"
    codex_backend.clear_mode(alice.email)
    codex_backend.recorder.script({"mode": "end_after", "events": 3})
    assert [e["type"] for e in events(post(GOOD))] == [
        "response.created", "response.in_progress", "response.output_item.added"]
    codex_backend.recorder.script({"mode": "cut_before"})
    with pytest.raises(httpx.RemoteProtocolError):
        post(GOOD)
    assert codex_backend.hits(alice.email) == 4


def test_tools_give_a_function_call_unless_answering_a_tool_result(post):
    tools = [{"type": "function", "name": "read", "parameters": {}}]
    first = [e for e in events(post({**GOOD, "tools": tools})) if e["type"] == "response.output_item.done"]
    call = first[-1]["item"]
    assert call["type"] == "function_call" and call["name"] == "read"
    answer = post({**GOOD, "tools": tools, "input": [call, {"type": "function_call_output",
                                                            "call_id": call["call_id"], "output": "ok"}]})
    assert events(answer)[-1]["response"]["output"][-1]["type"] == "message"


def test_long_stream_stamps_each_delta_when_sent(post, codex_backend):
    codex_backend.recorder.script({"mode": "long_stream", "events": 50})
    deltas = [e["delta"] for e in events(post(GOOD)) if e["type"] == "response.output_text.delta"]
    stamps = [float(d.split("@")[1].rstrip("]")) for d in deltas]
    assert len(stamps) == 50 and stamps == sorted(stamps) and abs(stamps[-1] - time.time()) < 5
