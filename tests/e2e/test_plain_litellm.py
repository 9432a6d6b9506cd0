"""`litellm --config config/litellm.yaml`: LiteLLM's own CLI with the gateway's hook from the YAML."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

MODEL = "claude-sonnet-4-5-20250929"


def test_messages_and_chat_use_the_subscription_token(plain, accounts, claude_stack):
    acct = accounts.add("claude")
    msg = anthropic.Anthropic(base_url=plain, api_key="x", max_retries=0).messages.create(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text.startswith("Hello from fake")
    seen = claude_stack.api.messages_requests(acct.email)[-1]
    assert seen.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert seen.json()["system"][0]["text"].startswith("You are Claude Code")
    chat = openai.OpenAI(base_url=plain + "/v1", api_key="x", max_retries=0).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content


def test_responses_on_codex_pool(plain, accounts, codex_stack):
    acct = accounts.add("codex")
    r = openai.OpenAI(base_url=plain + "/v1", api_key="x", max_retries=0).responses.create(model="gpt-5.1-codex-high", input="hi")
    assert r.output_text
    sent = [x for x in codex_stack.api.recorder.requests if x.account == acct.email][-1]
    assert sent.headers["chatgpt-account-id"] == acct.grant.account_id
    assert sent.json()["reasoning"]["effort"] == "high"


@pytest.mark.parametrize("path,body,provider", [
    ("/v1/chat/completions", {"model": "gpt-5.1", "messages": [{"role": "user", "content": "hi"}]}, "codex"),
    ("/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, "claude"),
])
def test_no_account_says_how_to_log_in(plain, accounts, path, body, provider):
    reply = httpx.post(plain + path, json=body, timeout=30)
    assert reply.status_code == 503
    assert f"python -m gateway login {provider}" in reply.text
    assert "Invalid model name" not in reply.text


def test_all_accounts_blocked_answers_the_hooks_429_and_reset(plain, accounts, claude_stack):
    """The hook's classification (quota, reset) is what LiteLLM's proxy renders: 429, Retry-After."""
    acct = accounts.add("claude")
    claude_stack.api.set_mode(acct.email, {"status": 429, "reset_in": 120})
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(2):  # the failing call itself, then with the account already blocked
        reply = httpx.post(plain + "/v1/chat/completions", json=body, timeout=30)
        assert reply.status_code == 429
        assert 100 <= int(reply.headers["retry-after"]) <= 121
        assert f"All accounts for model {MODEL} have hit their usage limit" in reply.text
