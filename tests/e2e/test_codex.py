"""ChatGPT (Codex) subscriptions through the real gateway: Responses, chat and Messages clients."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest

TOOL = {"type": "function", "name": "run_shell", "description": "Run a command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}
CHAT_TOOL = {"type": "function", "function": {k: v for k, v in TOOL.items() if k != "type"}}


def oai(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="dummy-not-used", max_retries=0)


def last_body(codex_stack, email):
    return [r for r in codex_stack.api.recorder.requests if r.account == email][-1]


def test_responses_non_stream_with_account_headers(served, accounts, codex_stack):
    acct = accounts.add("codex")
    r = oai(served).responses.create(model="gpt-5.1-codex", input="hello", instructions="Be brief.",
                                      max_output_tokens=100, temperature=0.2, prompt_cache_key="pck-1")
    assert "Hello from the fake Codex backend" in r.output_text
    sent = last_body(codex_stack, acct.email)
    assert sent.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert sent.headers["chatgpt-account-id"] == acct.grant.account_id
    body = sent.json()
    assert body["instructions"] == "Be brief." and body["stream"] is True and body["store"] is False
    assert body["prompt_cache_key"] == "pck-1"
    assert "max_output_tokens" not in body and "temperature" not in body
    assert acct.email not in r.id and acct.grant.account_id not in r.id


def test_responses_stream_events(served, accounts):
    accounts.add("codex")
    types = [e.type for e in oai(served).responses.create(model="gpt-5.1", input="hi", stream=True)]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "response.output_text.delta" in types


def test_codex_cli_without_instructions_gets_the_short_default(gateway, accounts, codex_stack):
    acct = accounts.add("codex")
    r = httpx.post(gateway.url + "/backend-api/codex/responses", timeout=30,  # Codex CLI's native path
                   headers={"originator": "codex_exec", "session-id": "s-1", "x-codex-window-id": "w-9"},
                   json={"model": "gpt-5.1-codex", "stream": True, "store": False,
                         "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
                                   {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]})
    assert r.status_code == 200 and b"response.completed" in r.content
    sent = last_body(codex_stack, acct.email)
    assert 0 < len(sent.json()["instructions"]) < 400
    assert sent.headers["originator"] == "codex_exec" and sent.headers["x-codex-window-id"] == "w-9"


def test_effort_variant_is_forced_even_with_client_summary(served, accounts, codex_stack):
    acct = accounts.add("codex")
    oai(served).responses.create(model="gpt-5.1-codex-high", input="x", reasoning={"summary": "auto"})
    body = last_body(codex_stack, acct.email).json()
    assert body["model"] == "gpt-5.1-codex"
    assert body["reasoning"]["effort"] == "high" and body["reasoning"]["summary"] == "auto"


def test_unlisted_gpt5_name_goes_to_the_codex_pool(served, accounts, codex_stack):
    acct = accounts.add("codex")
    r = oai(served).responses.create(model="gpt-5.6-sol", input="x")
    assert r.output_text and last_body(codex_stack, acct.email).json()["model"] == "gpt-5.6-sol"


def test_responses_tool_and_reasoning_round_trip(served, accounts, codex_stack):
    accounts.add("codex")
    c = oai(served)
    first = c.responses.create(model="gpt-5.1-codex", input="list files", tools=[TOOL],
                               include=["reasoning.encrypted_content"])
    call = next(i for i in first.output if i.type == "function_call")
    reasoning = next(i for i in first.output if i.type == "reasoning")
    assert reasoning.encrypted_content
    second = c.responses.create(model="gpt-5.1-codex", tools=[TOOL], input=[
        {"role": "user", "content": "list files"},
        reasoning.model_dump(exclude_none=True),
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "a.txt b.txt"},
    ])
    assert second.output_text


def test_chat_completions_to_gpt_stream_and_tools(served, accounts):
    accounts.add("codex")
    c = oai(served)
    r = c.chat.completions.create(model="gpt-5.1-codex", messages=[{"role": "user", "content": "hi"}])
    assert "Hello from the fake Codex backend" in r.choices[0].message.content
    chunks = list(c.chat.completions.create(model="gpt-5.1", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert "Hello" in "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    tool = c.chat.completions.create(model="gpt-5.1-codex", tools=[CHAT_TOOL], messages=[{"role": "user", "content": "ls"}])
    assert tool.choices[0].message.tool_calls[0].function.name == "run_shell"


def test_anthropic_sdk_on_a_gpt_model(served, accounts):
    accounts.add("codex")
    client = anthropic.Anthropic(base_url=served.url, api_key="k", max_retries=0)
    msg = client.messages.create(model="gpt-5.1-codex", max_tokens=200, messages=[{"role": "user", "content": "hi"}])
    assert any(b.type == "text" and "Hello" in b.text for b in msg.content)
    with client.messages.stream(model="gpt-5.1-codex", max_tokens=200, messages=[{"role": "user", "content": "hi"}]) as s:
        assert "Hello" in s.get_final_text()
    count = client.messages.count_tokens(model="gpt-5.1-codex", messages=[{"role": "user", "content": "count these words"}])
    assert 0 < count.input_tokens < 50


def test_usage_limit_fails_over_then_429_with_reset(gateway, accounts, codex_stack):
    a, b = accounts.add("codex"), accounts.add("codex")
    codex_stack.api.set_mode(a.email, {"status": 429, "resets_in_seconds": 900})
    for _ in range(3):
        assert oai(gateway).responses.create(model="gpt-5.1", input="x").output_text
    assert codex_stack.api.hits(a.email) == 1
    codex_stack.api.set_mode(b.email, {"status": 429, "resets_in_seconds": 300})
    t0 = time.monotonic()
    with pytest.raises(openai.RateLimitError) as err:
        oai(gateway).responses.create(model="gpt-5.1", input="x")
    assert time.monotonic() - t0 < 1.0
    assert 250 <= int(err.value.response.headers["retry-after"]) <= 301
    assert err.value.body["type"] == "usage_limit_reached"
    assert err.value.body["resets_in_seconds"] >= 250


def test_upstream_400_message_reaches_the_client(gateway, accounts):
    accounts.add("codex")
    with pytest.raises(openai.BadRequestError) as err:
        oai(gateway).responses.create(model="gpt-5.1", input=[
            {"type": "function_call_output", "call_id": "call_missing", "output": "x"}])
    assert "call_missing" in err.value.message
    assert "litellm" not in json.dumps(err.value.body).lower()
