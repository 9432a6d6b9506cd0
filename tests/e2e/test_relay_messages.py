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
