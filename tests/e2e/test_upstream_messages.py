"""An upstream's own error message reaches the client in its dialect, with the upstream's status,
scrubbed of anything shaped like a credential, and shows on /ui and in the access line."""

from __future__ import annotations

import time

import httpx
import pytest

CLAUDE = "claude-sonnet-4-5-20250929"
SECRET = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"  # a JWT quoted back


def _post(gateway, path: str, body: dict) -> httpx.Response:
    return httpx.post(gateway.url + path, json=body, timeout=30)


def _message(reply: httpx.Response) -> str:
    return reply.json()["error"]["message"]


@pytest.mark.parametrize("path,body,anthropic", [
    ("/v1/chat/completions", {"model": "gpt-5.1", "messages": [{"role": "user", "content": "hi"}]}, False),
    ("/v1/responses", {"model": "gpt-5.1", "input": "hi"}, False),
    ("/v1/responses", {"model": "gpt-5.1", "input": "hi", "stream": True}, False),
    ("/v1/messages", {"model": "gpt-5.1", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, True),
])
def test_codex_404_message_reaches_every_dialect(gateway, accounts, codex_stack, path, body, anthropic):
    accounts.add("codex")
    words = "The model `gpt-5.1` does not exist or you do not have access to it."
    codex_stack.api.set_mode(None, {"status": 404, "body": {"detail": words}})
    reply = _post(gateway, path, body)
    assert reply.status_code == 404
    assert _message(reply) == words
    assert (reply.json().get("type") == "error") is anthropic
    time.sleep(0.3)
    assert f'status=404 model=gpt-5.1 account={accounts.added[-1].email}' in gateway.log_text()
    assert f'error="{words}"' in gateway.log_text()
    recent = httpx.get(gateway.url + "/ui/data.json").json()["recent_errors"]
    assert recent[0]["message"] == words and recent[0]["status"] == 404


@pytest.mark.parametrize("path,body", [
    ("/v1/messages", {"model": CLAUDE, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/chat/completions", {"model": CLAUDE, "messages": [{"role": "user", "content": "hi"}]}),
])
def test_claude_400_message_is_scrubbed_and_kept(gateway, accounts, claude_stack, path, body):
    accounts.add("claude")
    claude_stack.api.set_mode(None, {"status": 400, "message": f"messages.0.content: bad block near {SECRET}"})
    reply = _post(gateway, path, body)
    assert reply.status_code == 400
    assert _message(reply).startswith("messages.0.content: bad block near")
    assert SECRET not in reply.text and SECRET not in gateway.log_text()
    recent = httpx.get(gateway.url + "/ui/data.json").json()["recent_errors"]
    assert recent[0]["message"].startswith("messages.0.content: bad block near") and SECRET not in str(recent)


def test_upstream_413_stays_413(gateway, accounts, claude_stack):
    accounts.add("claude")
    claude_stack.api.set_mode(None, {"status": 413, "type": "request_too_large", "message": "Request exceeds the maximum size"})
    reply = _post(gateway, "/v1/messages", {"model": CLAUDE, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 413
    assert reply.json()["error"] == {"type": "request_too_large", "message": "Request exceeds the maximum size"}


@pytest.mark.parametrize("path,body", [
    ("/v1/chat/completions", {"model": "gpt-5.1", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/messages", {"model": "gpt-5.1", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
])
def test_one_upstream_failure_is_counted_once(gateway, accounts, codex_stack, path, body):
    acct = accounts.add("codex")
    codex_stack.api.set_mode(None, {"status": 404, "body": {"detail": "Not Found"}})
    reply = _post(gateway, path, body)
    assert reply.status_code == 404
    recent = httpx.get(gateway.url + "/ui/data.json").json()["recent_errors"]
    assert sum(1 for e in recent if e["account"] == acct.email) == 1
