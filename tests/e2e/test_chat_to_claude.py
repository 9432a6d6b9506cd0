"""OpenAI-speaking tools (chat completions) on Claude subscriptions, through the official openai SDK."""

from __future__ import annotations

import json

import openai
import pytest

MODEL = "claude-sonnet-4-5-20250929"
TOOLS = [{
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}]


def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="dummy-not-used", max_retries=0)


def test_chat_non_stream(served, accounts, claude_stack):
    acct = accounts.add("claude")
    r = client(served).chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "Be short."}, {"role": "user", "content": "hi"}])
    assert r.choices[0].message.content.startswith("Hello from fake")
    sent = claude_stack.api.messages_requests(acct.email)[-1].json()
    texts = [b["text"] for b in sent["system"]]
    assert texts[0].startswith("You are Claude Code") and "Be short." in texts


def test_chat_stream_with_usage(served, accounts):
    accounts.add("claude")
    chunks = list(client(served).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Hello from fake")
    assert any(c.usage and c.usage.total_tokens > 0 for c in chunks)


def test_chat_tool_round_trip(served, accounts):
    accounts.add("claude")
    c = client(served)
    first = c.chat.completions.create(model=MODEL, tools=TOOLS, messages=[{"role": "user", "content": "weather in Oslo?"}])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    second = c.chat.completions.create(model=MODEL, tools=TOOLS, messages=[
        {"role": "user", "content": "weather in Oslo?"},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "cloudy, 12C"},
    ])
    assert "cloudy, 12C" in second.choices[0].message.content


def test_chat_stream_tool_calls(served, accounts):
    accounts.add("claude")
    chunks = list(client(served).chat.completions.create(
        model=MODEL, tools=TOOLS, stream=True, messages=[{"role": "user", "content": "weather in Oslo?"}]))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas and deltas[0].function.name == "get_weather"
    args = "".join(d.function.arguments or "" for d in deltas)
    assert isinstance(json.loads(args), dict)


@pytest.mark.parametrize("effort", ["low", "high"])
def test_reasoning_effort_becomes_thinking(served, accounts, claude_stack, effort):
    acct = accounts.add("claude")
    r = client(served).chat.completions.create(
        model=MODEL, reasoning_effort=effort, max_tokens=4000, messages=[{"role": "user", "content": "think"}])
    assert r.choices[0].message.content
    sent = claude_stack.api.messages_requests(acct.email)[-1].json()
    assert sent["thinking"]["type"] in ("enabled", "adaptive")
    assert getattr(r.choices[0].message, "reasoning_content", None)


def test_chat_errors_in_openai_shape(gateway, accounts):
    accounts.add("claude")
    with pytest.raises(openai.NotFoundError) as err:
        client(gateway).chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert MODEL in err.value.message
    with pytest.raises(openai.BadRequestError):
        client(gateway).chat.completions.create(model=MODEL, messages=[])
