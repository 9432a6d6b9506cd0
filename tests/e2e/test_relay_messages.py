"""/v1/messages to the Claude pool: what the upstream streams reaches the client byte for byte, `ping`
and event types the gateway never heard of included, in both entry points."""

from __future__ import annotations

import httpx
import pytest

from custom_providers.sse import iter_events

MODEL = "claude-sonnet-4-5-20250929"
NEW_EVENT = ["brand_new_event", {"type": "brand_new_event", "payload": {"nested": [1, "two"]}, "later": None}]


def _url(request, entry: str) -> str:
    value = request.getfixturevalue(entry)
    return value.url if entry == "gateway" else value


@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_the_stream_arrives_as_the_upstream_sent_it(request, entry, accounts, claude_stack):
    url = _url(request, entry)
    acct = accounts.add("claude")
    claude_stack.api.set_mode(acct.email, {"extra_events": [NEW_EVENT]})
    body = {"model": MODEL, "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", url + "/v1/messages", json=body, timeout=30,
                      headers={"anthropic-version": "2023-06-01"}) as r:
        received = b"".join(r.iter_bytes())
    sent = claude_stack.api.streamed[acct.email]
    names = [e.type for e in iter_events(received)]
    assert names[:4] == ["message_start", "brand_new_event", "content_block_start", "ping"]
    assert received == sent


CLAUDE_CODE_SYSTEM = [
    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.999; cc_entrypoint=cli"},
    {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
]


def _request(system=None) -> dict:
    body = {
        "model": MODEL, "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "future_block_field": {"x": [1]}}]}],
        "metadata": {"user_id": "user-123"},
        "brand_new_top_level": {"nested": [1, "two", None]},
        "tools": [{"type": "future_server_tool_20990101", "name": "future"},
                  {"name": "Read", "description": "read", "input_schema": {"type": "object"}, "eager_input_streaming": True}],
        "temperature": 0.3,
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    }
    if system is not None:
        body["system"] = system
    return body


CLIENT_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,brand-new-beta-2099-01-01,context-1m-2025-08-07",
    "x-claude-code-session-id": "sess-relay-1",
    "x-future-client-header": "kept",
    "x-api-key": "gateway-client-key",
}


@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_a_claude_code_request_arrives_as_sent(request, entry, accounts, claude_stack):
    url = _url(request, entry)
    acct = accounts.add("claude")
    body = _request(CLAUDE_CODE_SYSTEM)
    headers = {**CLIENT_HEADERS, "user-agent": "claude-cli/2.1.999 (external, cli)", "x-app": "cli",
               "x-stainless-lang": "js"}
    r = httpx.post(url + "/v1/messages?beta=true", json=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    seen = claude_stack.api.messages_requests(acct.email)[-1]
    assert seen.json() == body
    h = seen.headers
    assert h["authorization"] == f"Bearer {acct.grant.access_token}" and "x-api-key" not in h
    assert h["anthropic-beta"] == "claude-code-20250219,brand-new-beta-2099-01-01,oauth-2025-04-20"
    assert (h["user-agent"], h["x-app"], h["x-stainless-lang"]) == ("claude-cli/2.1.999 (external, cli)", "cli", "js")
    assert (h["x-claude-code-session-id"], h["x-future-client-header"], h["anthropic-version"]) == (
        "sess-relay-1", "kept", "2023-06-01")


@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_another_callers_request_gets_only_the_listed_edits(request, entry, accounts, claude_stack):
    url = _url(request, entry)
    acct = accounts.add("claude")
    body = _request("You are Droid.")
    headers = {**CLIENT_HEADERS, "user-agent": "factory-cli/0.215.0", "x-stainless-lang": "js"}
    r = httpx.post(url + "/v1/messages", json=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    seen = claude_stack.api.messages_requests(acct.email)[-1]
    expected = dict(body, system=[{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
                                  {"type": "text", "text": "You are Droid."}])
    assert seen.json() == expected
    h = seen.headers
    assert h["user-agent"].startswith("claude-cli/") and h["x-app"] == "cli" and "x-stainless-lang" not in h
    assert h["x-future-client-header"] == "kept"
