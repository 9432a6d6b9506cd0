"""The Anthropic fake refuses what the real API refuses and misbehaves exactly when scripted to.

Gateway tests trust this fake to catch bad upstream requests; if a rule silently stopped working here,
those tests would pass against a broken gateway. So each refusal and each chaos mode is checked once,
over a real socket where connection behaviour matters.
"""

from __future__ import annotations

import gzip
import itertools
import json
import time
from typing import Any, Iterator

import httpx
import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.anthropic_replies import REDACTED_THINKING_TRIGGER
from tests.fakes.tokens import Grant, TokenBook
from tests.servers import ServerThread

IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."
BETA = "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14"
_emails = itertools.count()


@pytest.fixture(scope="module")
def book() -> TokenBook:
    return TokenBook()


@pytest.fixture(scope="module")
def fake(book: TokenBook) -> AnthropicFake:
    return AnthropicFake(book)


@pytest.fixture(scope="module")
def server(fake: AnthropicFake) -> Iterator[ServerThread]:
    with ServerThread(fake.app) as srv:
        yield srv


@pytest.fixture
def client(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


@pytest.fixture
def grant(book: TokenBook) -> Grant:
    return book.issue(f"user{next(_emails)}@example.com")


def headers(token: str | None, *, beta: str | None = BETA, version: str | None = "2023-06-01") -> dict[str, str]:
    out = {}
    if token is not None:
        out["authorization"] = f"Bearer {token}"
    if beta is not None:
        out["anthropic-beta"] = beta
    if version is not None:
        out["anthropic-version"] = version
    return out


def body(**overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": "claude-opus-4-5-20251101",
        "max_tokens": 4096,
        "system": [{"type": "text", "text": IDENTITY}],
        "messages": [{"role": "user", "content": "What is the weather in Paris today?"}],
    }
    out.update(overrides)
    return {k: v for k, v in out.items() if v is not None}


def post(client: httpx.Client, grant: Grant, payload: dict[str, Any], **kw: Any) -> httpx.Response:
    return client.post("/v1/messages?beta=true", json=payload, headers=headers(grant.access_token, **kw))


def assert_error(resp: httpx.Response, status: int, kind: str, message: str) -> None:
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert data["type"] == "error"
    assert data["error"] == {"type": kind, "message": data["error"]["message"]}
    assert message in data["error"]["message"]
    assert data["request_id"].startswith("req_011C")
    assert resp.headers["request-id"] == data["request_id"]


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in text.split("\n\n"):
        if not frame:
            continue
        name_line, data_line = frame.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        data = json.loads(data_line[len("data: "):])
        assert data["type"] == name_line[len("event: "):]
        events.append((data["type"], data))
    return events


# -- auth --------------------------------------------------------------------------------------------


def test_missing_auth_is_refused(client: httpx.Client) -> None:
    resp = client.post("/v1/messages", json=body(), headers=headers(None))
    assert_error(resp, 401, "authentication_error", "x-api-key header is required")


def test_oauth_token_in_x_api_key_is_refused(client: httpx.Client, grant: Grant) -> None:
    resp = client.post("/v1/messages", json=body(), headers={**headers(None), "x-api-key": grant.access_token})
    assert_error(resp, 401, "authentication_error", "invalid x-api-key")


def test_unknown_bearer_is_refused(client: httpx.Client) -> None:
    resp = client.post("/v1/messages", json=body(), headers=headers("sk-ant-oat01-nope"))
    assert_error(resp, 401, "authentication_error", "Invalid bearer token")


def test_expired_token_is_refused_and_attributed(client: httpx.Client, book: TokenBook, fake: AnthropicFake,
                                                 grant: Grant) -> None:
    book.expire(grant.access_token)
    resp = post(client, grant, body())
    assert_error(resp, 401, "authentication_error", "OAuth token has expired.")
    assert fake.hits(grant.email) == 1


def test_oauth_without_beta_is_refused(client: httpx.Client, grant: Grant) -> None:
    resp = post(client, grant, body(), beta="interleaved-thinking-2025-05-14")
    assert_error(resp, 401, "authentication_error", "OAuth authentication is currently not supported.")


def test_missing_version_is_refused(client: httpx.Client, grant: Grant) -> None:
    resp = post(client, grant, body(), version=None)
    assert_error(resp, 400, "invalid_request_error", "anthropic-version: header is required")


# -- body rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_tokens", "model", "messages"])
def test_required_fields(client: httpx.Client, grant: Grant, field: str) -> None:
    payload = body()
    del payload[field]
    assert_error(post(client, grant, payload), 400, "invalid_request_error", f"{field}: Field required")


def test_non_claude_model_is_not_found(client: httpx.Client, grant: Grant) -> None:
    assert_error(post(client, grant, body(model="gpt-5")), 404, "not_found_error", "model: gpt-5")


@pytest.mark.parametrize("thinking, message", [
    ({"type": "enabled", "budget_tokens": 512}, "greater than or equal to 1024"),
    ({"type": "enabled", "budget_tokens": 4096}, "`max_tokens` must be greater than `thinking.budget_tokens`"),
])
def test_bad_thinking_budget(client: httpx.Client, grant: Grant, thinking: dict[str, Any], message: str) -> None:
    assert_error(post(client, grant, body(thinking=thinking)), 400, "invalid_request_error", message)


def test_adaptive_thinking_is_accepted_and_signed(client: httpx.Client, grant: Grant) -> None:
    resp = post(client, grant, body(thinking={"type": "adaptive"}, output_config={"effort": "high"}))
    assert resp.status_code == 200, resp.text
    assert [b["type"] for b in resp.json()["content"]] == ["thinking", "text"]


def test_tool_without_input_schema_is_refused(client: httpx.Client, grant: Grant) -> None:
    resp = post(client, grant, body(tools=[{"name": "Read", "description": "read a file"}]))
    assert_error(resp, 400, "invalid_request_error", "tools.0.custom.input_schema: Field required")


@pytest.mark.parametrize("system", [None, "You are Droid.", [{"type": "text", "text": "You are Droid."}]])
def test_oauth_without_claude_code_identity_is_refused(client: httpx.Client, grant: Grant, system: Any) -> None:
    payload = body(system=system)
    resp = post(client, grant, payload)
    assert_error(resp, 400, "invalid_request_error", "only authorized for use with Claude Code")


@pytest.mark.parametrize("system", [
    IDENTITY + " Extra text.",
    [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.220.abc; cc_entrypoint=cli;"},
     {"type": "text", "text": IDENTITY, "cache_control": {"type": "ephemeral"}}],
    [{"type": "text", "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."}],
])
def test_identity_forms_are_accepted(client: httpx.Client, grant: Grant, system: Any) -> None:
    assert post(client, grant, body(system=system)).status_code == 200


async def test_identity_rule_can_be_switched_off(book: TokenBook) -> None:
    lax = AnthropicFake(book, require_claude_code_identity=False)
    grant = book.issue("lax@example.com")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(lax.app), base_url="http://fake") as c:
        resp = await c.post("/v1/messages", json=body(system="You are Droid."), headers=headers(grant.access_token))
    assert resp.status_code == 200, resp.text


def test_long_context_beta_is_refused_for_oauth(client: httpx.Client, grant: Grant) -> None:
    resp = post(client, grant, body(), beta=BETA + ",context-1m-2025-08-07")
    assert_error(resp, 400, "invalid_request_error", "The long context beta is not yet available")


def test_unknown_fields_are_accepted_and_recorded(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    resp = post(client, grant, body(context_management={"edits": []}, speed="fast"))
    assert resp.status_code == 200
    recorded = fake.messages_requests(grant.email)[-1]
    assert recorded.json()["speed"] == "fast" and recorded.query == "beta=true"


def test_too_many_cache_breakpoints_are_refused(client: httpx.Client, grant: Grant) -> None:
    block = {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    payload = body(system=[{"type": "text", "text": IDENTITY, "cache_control": {"type": "ephemeral"}}],
                   messages=[{"role": "user", "content": [block] * 4}])
    assert_error(post(client, grant, payload), 400, "invalid_request_error", "A maximum of 4 blocks")


# -- replies -----------------------------------------------------------------------------------------


def test_plain_reply_echoes_and_carries_headers(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    resp = post(client, grant, body())
    assert resp.status_code == 200
    data = resp.json()
    assert data["content"] == [{"type": "text", "text": "Hello from fake claude-opus-4-5-20251101. "
                                                         "You said: What is the weather in Paris today?"}]
    assert data["stop_reason"] == "end_turn" and data["id"].startswith("msg_01")
    assert data["usage"]["input_tokens"] > 10 and data["usage"]["cache_read_input_tokens"] == 0
    assert resp.headers["anthropic-ratelimit-unified-status"] == "allowed"
    assert int(resp.headers["anthropic-ratelimit-unified-reset"]) > time.time()
    assert resp.headers["request-id"].startswith("req_011C")
    assert fake.hits(grant.email) == 1


def test_stream_framing_event_by_event(client: httpx.Client, grant: Grant) -> None:
    payload = body(stream=True, thinking={"type": "enabled", "budget_tokens": 1024})
    resp = post(client, grant, payload)
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(resp.text)
    names = [n for n, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert events[1][1]["content_block"]["type"] == "thinking"
    deltas = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert "thinking_delta" in deltas and "signature_delta" in deltas and deltas.count("text_delta") > 1
    assert names[-2:] == ["message_delta", "message_stop"]
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn" and events[-2][1]["usage"]["output_tokens"] > 0
    text = "".join(d["delta"]["text"] for n, d in events if d.get("delta", {}).get("type") == "text_delta")
    assert text.startswith("Hello from fake")


def test_tool_stream_uses_input_json_deltas(client: httpx.Client, grant: Grant) -> None:
    tool = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                                    "required": ["city"]}}
    events = parse_sse(post(client, grant, body(stream=True, tools=[tool])).text)
    start = next(d for n, d in events if n == "content_block_start")
    assert start["content_block"]["type"] == "tool_use" and start["content_block"]["id"].startswith("toolu_")
    partial = "".join(d["delta"]["partial_json"] for n, d in events
                      if d.get("delta", {}).get("type") == "input_json_delta")
    assert json.loads(partial) == {"city": "fake"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}


def _tool_turn(client: httpx.Client, grant: Grant) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    payload = body(thinking={"type": "enabled", "budget_tokens": 1024}, tools=[WEATHER])
    first = post(client, grant, payload).json()
    assert [b["type"] for b in first["content"]] == ["thinking", "tool_use"]
    tool_id = first["content"][1]["id"]
    history = payload["messages"] + [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "sunny, 21C"}]},
    ]
    return payload, history


def test_signature_round_trip_is_accepted(client: httpx.Client, grant: Grant) -> None:
    payload, history = _tool_turn(client, grant)
    resp = post(client, grant, {**payload, "messages": history})
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][-1] == {"type": "text", "text": "tool said: sunny, 21C"}


def test_tampered_signature_is_refused(client: httpx.Client, grant: Grant) -> None:
    payload, history = _tool_turn(client, grant)
    history[1]["content"][0]["thinking"] += " (edited)"
    resp = post(client, grant, {**payload, "messages": history})
    assert_error(resp, 400, "invalid_request_error", "messages.1.content.0: Invalid signature in thinking block")


def test_dropped_thinking_before_tool_use_is_refused(client: httpx.Client, grant: Grant) -> None:
    payload, history = _tool_turn(client, grant)
    history[1]["content"] = history[1]["content"][1:]
    resp = post(client, grant, {**payload, "messages": history})
    assert_error(resp, 400, "invalid_request_error", "a final `assistant` message must start with a thinking block")


def test_redacted_thinking_round_trip(client: httpx.Client, grant: Grant) -> None:
    payload = body(thinking={"type": "enabled", "budget_tokens": 1024},
                   messages=[{"role": "user", "content": REDACTED_THINKING_TRIGGER}])
    first = post(client, grant, payload).json()
    assert first["content"][0]["type"] == "redacted_thinking"
    follow = [{"role": "assistant", "content": first["content"]}, {"role": "user", "content": "go on"}]
    assert post(client, grant, {**payload, "messages": payload["messages"] + follow}).status_code == 200
    follow[0]["content"][0]["data"] = "Zm9yZ2Vk"
    resp = post(client, grant, {**payload, "messages": payload["messages"] + follow})
    assert_error(resp, 400, "invalid_request_error", "messages.1.content.0: Invalid data in redacted_thinking")


def test_tool_use_without_tool_result_is_refused(client: httpx.Client, grant: Grant) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01abc", "name": "get_weather",
                                           "input": {}}]},
        {"role": "user", "content": "never mind"},
    ]
    resp = post(client, grant, body(tools=[WEATHER], messages=messages))
    assert_error(resp, 400, "invalid_request_error",
                 "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01abc")


def test_tool_result_without_tool_use_is_refused(client: httpx.Client, grant: Grant) -> None:
    messages = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "a"}]}]
    resp = post(client, grant, body(messages=messages))
    assert_error(resp, 400, "invalid_request_error", "unexpected `tool_use_id` found in `tool_result` blocks")


# -- scripted failures -------------------------------------------------------------------------------


def test_unified_429_carries_reset_headers(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    fake.recorder.script({"status": 429, "reset_in": 120, "retry_after": 30}, account=grant.email)
    resp = post(client, grant, body())
    assert_error(resp, 429, "rate_limit_error", "rate limit")
    assert resp.headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert resp.headers["anthropic-ratelimit-unified-5h-status"] == "rejected"
    reset = int(resp.headers["anthropic-ratelimit-unified-reset"])
    assert 100 < reset - time.time() <= 121
    assert resp.headers["anthropic-ratelimit-unified-5h-reset"] == str(reset)
    assert resp.headers["retry-after"] == "30"
    assert post(client, grant, body()).status_code == 200  # the script was one-shot


def test_plain_429_has_no_reset_info(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    fake.recorder.script({"status": 429, "unified": False}, account=grant.email)
    resp = post(client, grant, body())
    assert resp.status_code == 429
    assert not any(h.startswith("anthropic-ratelimit-unified") for h in resp.headers) and "retry-after" not in resp.headers


@pytest.mark.parametrize("status, kind", [(500, "api_error"), (503, "api_error"), (529, "overloaded_error")])
def test_server_errors(client: httpx.Client, fake: AnthropicFake, grant: Grant, status: int, kind: str) -> None:
    fake.recorder.script({"status": status}, account=grant.email)
    assert_error(post(client, grant, body()), status, kind, "")


def test_sticky_mode_is_per_account(client: httpx.Client, fake: AnthropicFake, book: TokenBook,
                                    grant: Grant) -> None:
    other = book.issue(f"user{next(_emails)}@example.com")
    fake.set_mode(grant.email, {"status": 401, "message": "revoked"})
    try:
        for _ in range(2):
            assert_error(post(client, grant, body()), 401, "authentication_error", "revoked")
        assert post(client, other, body()).status_code == 200
    finally:
        fake.clear_mode(grant.email)
    assert post(client, grant, body()).status_code == 200
    assert fake.hits(grant.email) == 3 and fake.hits(other.email) == 1


def test_gzip_error_body(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    fake.recorder.script({"mode": "gzip_error", "status": 500}, account=grant.email)
    with client.stream("POST", "/v1/messages", json=body(), headers=headers(grant.access_token)) as resp:
        raw = b"".join(resp.iter_raw())
    assert resp.status_code == 500 and resp.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(raw))["error"]["type"] == "api_error"


def test_cut_before_is_a_connection_error(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    fake.recorder.script({"mode": "cut_before"}, account=grant.email)
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, grant, body(stream=True))
    assert fake.hits(grant.email) == 1


def test_cut_after_ends_without_message_stop(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    fake.recorder.script({"mode": "cut_after", "events": 4}, account=grant.email)
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", "/v1/messages", json=body(stream=True), headers=headers(grant.access_token)) as r:
            assert r.status_code == 200
            for chunk in r.iter_bytes():
                received += chunk
    names = [n for n, _ in parse_sse(received.decode())]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta"]


def test_malformed_sse_sends_garbage(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    fake.recorder.script({"mode": "malformed_sse"}, account=grant.email)
    text = post(client, grant, body(stream=True)).text
    assert text.startswith("event: message_start\n") and "data: {this is not json" in text
    assert "message_stop" not in text


def test_slow_first_byte_and_delay(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    fake.recorder.script({"mode": "slow_first_byte", "delay": 0.3}, account=grant.email)
    started = time.monotonic()
    with client.stream("POST", "/v1/messages", json=body(stream=True), headers=headers(grant.access_token)) as r:
        assert time.monotonic() - started >= 0.3
        r.read()
    fake.recorder.script({"delay": 0.2}, account=grant.email)
    started = time.monotonic()
    assert post(client, grant, body()).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_long_stream_stamps_send_times(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    fake.recorder.script({"mode": "long_stream", "events": 5, "interval": 0.02}, account=grant.email)
    events = parse_sse(post(client, grant, body(stream=True)).text)
    texts = [d["delta"]["text"] for n, d in events if n == "content_block_delta"]
    stamps = [float(t.split("t=")[1].rstrip("]")) for t in texts]
    assert len(stamps) == 5 and stamps == sorted(stamps) and stamps[-1] - stamps[0] >= 0.06
    assert events[-1][0] == "message_stop"


# -- count_tokens and models -------------------------------------------------------------------------


def test_count_tokens(client: httpx.Client, fake: AnthropicFake, grant: Grant) -> None:
    payload = {"model": "claude-sonnet-4-5-20250929", "messages": [{"role": "user", "content": "hi"}]}
    resp = client.post("/v1/messages/count_tokens?beta=true", json=payload,
                       headers=headers(grant.access_token, beta="oauth-2025-04-20,token-counting-2024-11-01"))
    assert resp.status_code == 200 and resp.json()["input_tokens"] > 0
    seen = fake.recorder.for_path("/count_tokens")[-1]
    assert seen.account == grant.email and "token-counting-2024-11-01" in seen.headers["anthropic-beta"]
    resp = client.post("/v1/messages/count_tokens", json=payload, headers=headers(grant.access_token, version=None))
    assert_error(resp, 400, "invalid_request_error", "anthropic-version")
    resp = client.post("/v1/messages/count_tokens", json=payload, headers=headers(grant.access_token, beta=None))
    assert_error(resp, 401, "authentication_error", "OAuth authentication is currently not supported.")


def test_models_requires_auth(client: httpx.Client, grant: Grant) -> None:
    assert_error(client.get("/v1/models"), 401, "authentication_error", "x-api-key header is required")
    data = client.get("/v1/models", headers=headers(grant.access_token)).json()
    assert data["has_more"] is False and all(m["id"].startswith("claude-") for m in data["data"])


def test_official_sdk_streams_and_replays(server: ServerThread, grant: Grant) -> None:
    """The real SDK's stream parser is the judge of the SSE framing and the block shapes."""
    import anthropic

    sdk = anthropic.Anthropic(auth_token=grant.access_token, base_url=server.url, max_retries=0,
                              default_headers={"anthropic-beta": BETA})
    kw: dict[str, Any] = {"model": "claude-opus-4-8", "max_tokens": 4096, "system": IDENTITY,
                          "thinking": {"type": "enabled", "budget_tokens": 1024}, "tools": [WEATHER]}
    messages: list[dict[str, Any]] = [{"role": "user", "content": "weather?"}]
    with sdk.messages.stream(messages=messages, **kw) as stream:
        first = stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "tool_use"] and first.stop_reason == "tool_use"
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[1].id,
                                               "content": "rain"}]}]
    second = sdk.messages.create(messages=messages, **kw)
    assert second.content[-1].text == "tool said: rain"
