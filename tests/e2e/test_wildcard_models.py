"""Model names only a pool's wildcard matches (`gpt-5*`, `claude-*`) work on every route, whether or not
LiteLLM 1.108.7's model map knows them: the upstream dialect comes from the pool."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

CODEX_NAMES = ["gpt-5-codex", "gpt-5.9-codex-preview"]
CLAUDE_NAMES = ["claude-opus-4-8", "claude-sonnet-9-20990101"]
MSG = [{"role": "user", "content": "hi"}]


def _url(request, entry: str) -> str:
    value = request.getfixturevalue(entry)
    return value.url if entry == "gateway" else value


@pytest.mark.parametrize("model", CODEX_NAMES + CLAUDE_NAMES)
@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_chat_stream_and_not(request, entry, accounts, model):
    url = _url(request, entry)
    accounts.add("codex" if model.startswith("gpt") else "claude")
    client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    answer = client.chat.completions.create(model=model, messages=MSG)
    assert answer.choices[0].message.content
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=model, messages=MSG, stream=True) if c.choices)
    assert text


@pytest.mark.parametrize("model", CODEX_NAMES + CLAUDE_NAMES)
@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_messages(request, entry, accounts, model):
    url = _url(request, entry)
    accounts.add("codex" if model.startswith("gpt") else "claude")
    client = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0)
    msg = client.messages.create(model=model, max_tokens=64, messages=MSG)
    assert msg.content
    with client.messages.stream(model=model, max_tokens=64, messages=MSG) as stream:
        assert stream.get_final_text()


@pytest.mark.parametrize("model", CODEX_NAMES)
@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_responses(request, entry, accounts, model):
    url = _url(request, entry)
    accounts.add("codex")
    client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    assert client.responses.create(model=model, input="hi").output_text
    events = [e.type for e in client.responses.create(model=model, input="hi", stream=True)]
    assert events[-1] == "response.completed"


@pytest.mark.parametrize("model", CODEX_NAMES + CLAUDE_NAMES)
def test_count_tokens_and_amp_aliases(gateway, accounts, model):
    accounts.add("codex" if model.startswith("gpt") else "claude")
    r = httpx.post(gateway.url + "/v1/messages/count_tokens", headers={"anthropic-version": "2023-06-01"},
                   json={"model": model, "messages": MSG}, timeout=30)
    assert r.status_code == 200 and r.json()["input_tokens"] > 0
    alias = "anthropic" if model.startswith("claude") else "openai"
    path = "/v1/messages" if alias == "anthropic" else "/v1/chat/completions"
    body = {"model": model, "messages": MSG, "max_tokens": 64}
    r = httpx.post(f"{gateway.url}/api/provider/{alias}{path}", json=body, timeout=30,
                   headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 200, r.text
    if alias == "openai":
        r = httpx.post(f"{gateway.url}/api/provider/openai/v1/responses", json={"model": model, "input": "hi"}, timeout=30)
        assert r.status_code == 200, r.text
