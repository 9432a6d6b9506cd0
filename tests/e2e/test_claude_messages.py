"""Claude subscriptions through the real gateway, driven by the official anthropic SDK."""

from __future__ import annotations

import json
import stat
import time

import anthropic
import httpx
import pytest

MODEL = "claude-sonnet-4-5-20250929"
TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def client(gateway, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="dummy-not-used", max_retries=0, **kw)


def test_message_reaches_fake_with_account_token_and_identity(served, accounts, claude_stack):
    acct = accounts.add("claude")
    msg = client(served).messages.create(
        model=MODEL, max_tokens=200, system="You are terse.", messages=[{"role": "user", "content": "ping"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07,interleaved-thinking-2025-05-14"},
    )
    assert msg.content[0].text.startswith("Hello from fake")
    seen = claude_stack.api.messages_requests(acct.email)[-1]
    assert seen.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert "x-api-key" not in seen.headers  # the client's key never goes upstream
    betas = seen.headers["anthropic-beta"].split(",")
    assert "oauth-2025-04-20" in betas and "interleaved-thinking-2025-05-14" in betas
    assert "context-1m-2025-08-07" not in betas
    assert seen.headers["user-agent"].startswith("claude-cli/")
    system = seen.json()["system"]
    assert system[0]["text"].startswith("You are Claude Code")
    assert any(b.get("text") == "You are terse." for b in system)  # the caller's prompt is kept


def test_claude_code_shaped_request_is_not_altered(served, accounts, claude_stack):
    acct = accounts.add("claude")
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.0.abc; cc_entrypoint=cli;"},
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Project rules..."},
    ]
    client(served).messages.create(model=MODEL, max_tokens=100, system=system, messages=[{"role": "user", "content": "hi"}])
    assert claude_stack.api.messages_requests(acct.email)[-1].json()["system"] == system


def test_stream_events_in_order(served, accounts):
    accounts.add("claude")
    types = []
    text = ""
    with client(served).messages.stream(model=MODEL, max_tokens=300, messages=[{"role": "user", "content": "stream please"}]) as s:
        for event in s:
            types.append(event.type)
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                text += event.delta.text
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert "content_block_delta" in types and text.startswith("Hello from fake")


def test_tool_round_trip(served, accounts):
    accounts.add("claude")
    c = client(served)
    first = c.messages.create(model=MODEL, max_tokens=300, tools=[TOOL], messages=[{"role": "user", "content": "weather in Oslo?"}])
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    second = c.messages.create(
        model=MODEL, max_tokens=300, tools=[TOOL],
        messages=[
            {"role": "user", "content": "weather in Oslo?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21C"}]},
        ],
    )
    assert "sunny, 21C" in second.content[0].text


def test_thinking_round_trip_keeps_signatures_byte_exact(served, accounts, claude_stack):
    acct = accounts.add("claude")
    c = client(served)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    with c.messages.stream(model=MODEL, max_tokens=2000, thinking=thinking, tools=[TOOL],
                           messages=[{"role": "user", "content": "weather in Rome?"}]) as s:
        for _ in s:
            pass
        first = s.get_final_message()
    blocks = [b.model_dump() for b in first.content]
    think = next(b for b in blocks if b["type"] == "thinking")
    assert think["signature"]
    use = next(b for b in blocks if b["type"] == "tool_use")
    second = c.messages.create(
        model=MODEL, max_tokens=2000, thinking=thinking, tools=[TOOL],
        messages=[
            {"role": "user", "content": "weather in Rome?"},
            {"role": "assistant", "content": blocks},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "rainy"}]},
        ],
    )
    assert any(b.type == "text" and "rainy" in b.text for b in second.content)
    replayed = claude_stack.api.messages_requests(acct.email)[-1].json()["messages"][1]["content"]
    assert next(b for b in replayed if b["type"] == "thinking")["signature"] == think["signature"]


def test_count_tokens_uses_account_token_and_client_betas(gateway, accounts, claude_stack):
    acct = accounts.add("claude")
    result = client(gateway).messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "count me"}],
        extra_headers={"anthropic-beta": "token-efficient-tools-2025-02-19"},
    )
    assert result.input_tokens > 0
    seen = claude_stack.api.recorder.for_path("/v1/messages/count_tokens")[-1]
    assert seen.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert "token-efficient-tools-2025-02-19" in seen.headers["anthropic-beta"]


def test_expired_account_refreshes_once_and_persists_rotated_token(served, accounts, claude_stack):
    claude_stack.oauth.recorder.script({"delay": 1.0})  # keep the first refresh in flight
    acct = accounts.add("claude", expired=True)
    import concurrent.futures

    def one(_):
        return client(served).messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "x"}])

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert all(r.content for r in results)
    assert claude_stack.book.refreshes_by_email.get(acct.email, 0) == 1
    data = acct.data()
    assert data["refresh_token"] != acct.grant.refresh_token  # the rotated token was written back
    assert data["unknown_key_kept"] == {"note": "written by another tool"}
    assert stat.S_IMODE(acct.path.stat().st_mode) == 0o600
    assert claude_stack.book.reuse_count == 0


def test_upstream_401_refreshes_and_retries(served, accounts, claude_stack):
    acct = accounts.add("claude")
    claude_stack.book.expire(acct.grant.access_token)  # the server invalidates the token early
    msg = client(served).messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "x"}])
    assert msg.content
    assert claude_stack.book.refreshes_by_email.get(acct.email) == 1


def test_revoked_login_gives_clear_error_and_no_refresh_loop(gateway, accounts, claude_stack):
    acct = accounts.add("claude", expired=True)
    claude_stack.book.revoke_email(acct.email)
    calls_before = claude_stack.book.refresh_calls
    for _ in range(3):
        with pytest.raises(anthropic.APIStatusError) as err:
            client(gateway).messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "x"}])
        assert err.value.status_code in (401, 503)
        assert "login" in str(err.value.message).lower()
    assert claude_stack.book.refresh_calls - calls_before == 1  # marked needs-login, never retried
    assert acct.email in gateway.log_text()


def test_no_account_is_503_with_login_hint_in_both_dialects(gateway, accounts):
    with pytest.raises(anthropic.APIStatusError) as err:
        client(gateway).messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 503
    assert "python -m gateway login claude" in err.value.message
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 503
    assert "python -m gateway login claude" in r.json()["error"]["message"]


def test_client_mistakes_are_4xx_in_anthropic_shape(gateway, accounts):
    accounts.add("claude")
    url = gateway.url + "/v1/messages"
    headers = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
    bad_json = httpx.post(url, content=b"{not json", headers=headers)
    assert 400 <= bad_json.status_code < 500 and bad_json.json()["type"] == "error"
    missing = httpx.post(url, json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, headers=headers)
    assert missing.status_code == 400 and missing.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in missing.json()["error"]["message"]
    unknown = httpx.post(url, json={"model": "gpt-4-nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, headers=headers)
    assert unknown.status_code == 404 and MODEL in unknown.json()["error"]["message"]


def test_upstream_5xx_is_reported_cleanly(gateway, accounts, claude_stack):
    acct = accounts.add("claude")
    claude_stack.api.set_mode(acct.email, {"status": 529})
    with pytest.raises(anthropic.APIStatusError) as err:
        client(gateway).messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code >= 500
    assert "litellm" not in json.dumps(err.value.body).lower()


def test_models_lists_in_anthropic_shape_for_anthropic_clients(gateway, accounts):
    accounts.add("claude")
    page = client(gateway).models.list()
    ids = [m.id for m in page.data]
    assert MODEL in ids and "claude-*" not in ids
    openai_shape = httpx.get(gateway.url + "/v1/models").json()
    assert openai_shape["object"] == "list" and MODEL in [m["id"] for m in openai_shape["data"]]


def test_refresh_keeps_the_stored_email_without_a_profile_lookup(served, accounts, claude_stack):
    claude_stack.oauth.include_email_in_token_reply = False  # refresh replies that carry no email
    asked = len(claude_stack.oauth.recorder.for_path("/api/oauth/profile"))  # earlier plan-less accounts
    try:
        acct = accounts.add("claude", expired=True, extra={"subscription_type": "pro"})  # email and plan known
        assert client(served).messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}]).content
    finally:
        claude_stack.oauth.include_email_in_token_reply = True
    assert claude_stack.book.refreshes_by_email.get(acct.email) == 1
    assert acct.data()["email"] == acct.email and acct.data()["subscription_type"] == "pro"
    assert len(claude_stack.oauth.recorder.for_path("/api/oauth/profile")) == asked


def test_every_answer_says_how_long_the_gateway_itself_took(gateway, accounts, claude_stack):
    acct = accounts.add("claude")
    url = gateway.url + "/v1/messages"
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}
    for stream in (False, True):  # a route's first request also loads LiteLLM's code for it
        httpx.post(url, json={**body, "stream": stream}, timeout=30)
    claude_stack.api.set_mode(acct.email, {"delay": 0.3})
    answers = [httpx.post(url, json=body, timeout=30), httpx.post(url, json={**body, "stream": True}, timeout=30),
               httpx.post(url, json={"model": MODEL}, timeout=30), httpx.get(gateway.url + "/v1/models"),
               httpx.get(gateway.url + "/health")]
    for answer in answers:
        overhead = float(answer.headers["x-subgate-overhead-ms"])
        assert 0 <= overhead < answer.elapsed.total_seconds() * 1000
    # the upstream's 0.3 s is not the gateway's time
    assert float(answers[0].headers["x-subgate-overhead-ms"]) < 250
    assert float(answers[1].headers["x-subgate-overhead-ms"]) < 250


def test_count_tokens_chooses_blocks_and_fails_over_like_every_route(gateway, accounts, claude_stack):
    """A 429 on count_tokens blocks that account for the model routes too, and the count is served by
    the next account (gateway/count_tokens.py uses the Selector and the quota book)."""
    limited, other = accounts.add("claude"), accounts.add("claude")
    claude_stack.api.set_mode(limited.email, {"status": 429, "reset_in": 3600})
    for _ in range(3):
        result = client(gateway).messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "count"}])
        assert result.input_tokens > 0
    suffix = "/v1/messages/count_tokens"
    assert claude_stack.api.hits(limited.email, suffix) == 1  # tried once, then blocked
    assert claude_stack.api.hits(other.email, suffix) == 3
    client(gateway).messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert claude_stack.api.hits(limited.email) == 0  # the model route skips the blocked account too
    assert claude_stack.api.hits(other.email) == 1


def test_a_client_that_hangs_up_ends_the_upstream_stream(gateway, accounts, claude_stack):
    acct = accounts.add("claude")
    claude_stack.api.set_mode(acct.email, {"mode": "long_stream", "events": 200, "interval": 0.05})  # ~10 s
    body = {"model": MODEL, "max_tokens": 32000, "stream": True, "messages": [{"role": "user", "content": "x"}]}
    claude_stack.api.streamed.pop(acct.email, None)
    with httpx.stream("POST", gateway.url + "/v1/messages", json=body, timeout=30) as r:
        next(r.iter_bytes())  # the first events arrived; now the client goes away
    deadline = time.monotonic() + 4
    while acct.email not in claude_stack.api.streamed and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = claude_stack.api.streamed.get(acct.email)
    assert sent is not None, "the upstream stream was still running after the client left"
    assert sent.count(b"event: content_block_delta") < 100
