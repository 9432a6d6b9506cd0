"""A stream that stops before the upstream's terminal event reaches the client as an error, on every
route and both entry points, even when the answer's text mentions `message_stop` and `event: error`."""

from __future__ import annotations

import json

import httpx
import pytest

from custom_providers.sse import iter_events

CLAUDE = "claude-sonnet-4-5-20250929"
TRICKY = 'I will emit "event: message_stop" then "event: error" and data: [DONE] in the SSE code.'
MSG = [{"role": "user", "content": "write SSE code"}]
ROUTES = [
    ("claude", "/v1/messages", {"model": CLAUDE, "max_tokens": 64, "messages": MSG, "stream": True}),
    ("claude", "/v1/chat/completions", {"model": CLAUDE, "messages": MSG, "stream": True}),
    ("codex", "/v1/responses", {"model": "gpt-5.1", "input": "write SSE code", "stream": True}),
    ("codex", "/v1/chat/completions", {"model": "gpt-5.1", "messages": MSG, "stream": True}),
]


def _stream(url: str, path: str, body: dict) -> tuple[int, bytes]:
    with httpx.stream("POST", url + path, json=body, timeout=30, headers={"anthropic-version": "2023-06-01"}) as r:
        return r.status_code, b"".join(r.iter_bytes())


def _ends_in_error(path: str, data: bytes) -> bool:
    events = [e for e in iter_events(data) if not e.is_blank]
    last = events[-1]
    payload = last.json() or {}
    if path == "/v1/messages":
        return last.type == "error"
    if path == "/v1/responses":  # LiteLLM ends every Responses stream with `data: [DONE]`
        named = [e.type for e in events if e.data != "[DONE]"]
        return named[-1] in ("response.failed", "error") and "response.completed" not in named
    return "error" in payload and not any(e.data == "[DONE]" for e in events)


def _fake(provider, claude_stack, codex_stack):
    return claude_stack.api if provider == "claude" else codex_stack.api


@pytest.mark.parametrize("mode", ["end_after", "cut_after"])
@pytest.mark.parametrize("provider,path,body", ROUTES)
@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_a_stream_stopped_early_is_an_error(request, entry, accounts, claude_stack, codex_stack, provider, path, body, mode):
    url = request.getfixturevalue(entry).url if entry == "gateway" else request.getfixturevalue(entry)
    acct = accounts.add(provider)
    _fake(provider, claude_stack, codex_stack).set_mode(acct.email, {"mode": mode, "events": 4, "text": TRICKY})
    status, data = _stream(url, path, body)
    if status != 200:  # stopped before the first chunk reached the client: an error answer instead
        assert status >= 500 and "error" in json.loads(data), data[:500]
        return
    assert _ends_in_error(path, data), data[-800:]


@pytest.mark.parametrize("provider,path,body", ROUTES)
def test_an_answer_that_mentions_the_end_is_complete(gateway, accounts, claude_stack, codex_stack, provider, path, body):
    acct = accounts.add(provider)
    _fake(provider, claude_stack, codex_stack).set_mode(acct.email, {"text": TRICKY})
    status, data = _stream(gateway.url, path, body)
    assert status == 200 and not _ends_in_error(path, data), data[-800:]
