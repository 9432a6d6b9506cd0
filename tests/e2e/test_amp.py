"""Amp through the real one-port gateway: aliases on the subscriptions, the rest to (fake) ampcode."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

MODEL = "claude-opus-4-5-20251101"


def test_alias_served_by_subscription_never_sees_amp_key(gateway, accounts, claude_stack, amp_stack):
    acct = accounts.add("claude")
    r = httpx.post(
        gateway.url + "/api/provider/anthropic/v1/messages",
        headers={"authorization": f"Bearer {amp_stack.key}", "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "title this"}]},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["model"] == MODEL
    seen = claude_stack.api.messages_requests(acct.email)[-1]
    assert seen.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert amp_stack.key not in json.dumps(seen.headers)
    assert not amp_stack.recorder.for_path("/api/provider/anthropic/v1/messages")


def test_alias_streams_sse_events(gateway, accounts):
    accounts.add("claude")
    with httpx.stream("POST", gateway.url + "/api/provider/anthropic/v1/messages", timeout=30,
                      headers={"anthropic-version": "2023-06-01"},
                      json={"model": MODEL, "max_tokens": 64, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}) as r:
        body = b"".join(r.iter_bytes())
    assert r.status_code == 200
    assert body.count(b"event: ") >= 4 and b"message_stop" in body


def test_alias_models_in_provider_shape(gateway, accounts):
    accounts.add("claude")
    anth = httpx.get(gateway.url + "/api/provider/anthropic/v1/models").json()
    assert "object" not in anth and MODEL in [m["id"] for m in anth["data"]]
    oai = httpx.get(gateway.url + "/api/provider/openai/v1/models").json()
    assert oai["object"] == "list"


def test_unserved_model_falls_back_to_amp_upstream_with_its_key(gateway, accounts, amp_stack):
    r = httpx.post(
        gateway.url + "/api/provider/anthropic/v1/messages",
        headers={"authorization": "Bearer client-side-key", "anthropic-version": "2023-06-01"},
        json={"model": "claude-opus-4-5-20251101", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]},
        timeout=30,
    )  # no Claude account is logged in in this test: Amp credits pay for it
    assert r.status_code == 200, r.text
    seen = amp_stack.recorder.for_path("/api/provider/anthropic/v1/messages")[-1]
    assert seen.json()["model"] == "claude-opus-4-5-20251101"
    assert seen.headers["authorization"] == f"Bearer {amp_stack.key}"
    assert seen.headers["x-api-key"] == amp_stack.key
    assert "claude-opus-4-5-20251101" in gateway.log_text()


def test_management_passthrough_keeps_raw_query_and_swaps_credentials(gateway, amp_stack):
    r = httpx.post(gateway.url + "/api/internal?getUserInfo", json={"method": "getUserInfo"},
                   headers={"authorization": "Bearer users-own-amp-key", "x-forwarded-for": "1.2.3.4"})
    assert r.status_code == 200
    seen = amp_stack.recorder.for_path("/api/internal")[-1]
    assert seen.query == "getUserInfo"
    assert seen.headers["authorization"] == f"Bearer {amp_stack.key}"
    assert "1.2.3.4" not in json.dumps(seen.headers)


def test_management_sse_is_not_buffered(gateway):
    import time

    arrivals = []
    with httpx.stream("GET", gateway.url + "/api/internal/sse?n=3&delay=0.3", timeout=10) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic())
    assert len(arrivals) == 3
    assert arrivals[-1] - arrivals[0] > 0.45  # ticks arrived spread out, as sent


def test_actors_websocket_round_trip_keeps_subprotocol(gateway):
    async def run() -> tuple[str | None, dict, str]:
        url = gateway.url.replace("http://", "ws://") + "/actors/gateway/threadActor/websocket/?rvt-abc"
        async with websockets.connect(url, subprotocols=["rivet", "rvt.token123"]) as ws:
            hello = json.loads(await ws.recv())
            await ws.send("ping-through-gateway")
            echo = await ws.recv()
            return ws.subprotocol, hello, echo

    proto, hello, echo = asyncio.run(run())
    assert proto == "rivet"
    assert "rvt.token123" in hello["headers"].get("sec-websocket-protocol", "")
    assert "ping-through-gateway" in echo


def test_alias_takes_the_direct_routes_claude_rules(gateway, accounts, claude_stack):
    """Amp replays thinking and tool_use blocks with the empty signature its TUI needs, and Claude Code's
    1M-context beta: the Anthropic fake refuses all three for a subscription token, so a 200 means the
    alias went through the same Claude shaping as /v1/messages."""
    acct = accounts.add("claude")
    history = [
        {"role": "user", "content": "list files"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should run ls", "signature": ""},
            {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"cmd": "ls"}, "signature": ""},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "a.txt"}]},
    ]
    r = httpx.post(
        gateway.url + "/api/provider/anthropic/v1/messages",
        headers={"anthropic-version": "2023-06-01", "anthropic-beta": "context-1m-2025-08-07"},
        json={"model": MODEL, "max_tokens": 64, "messages": history,
              "tools": [{"name": "Bash", "input_schema": {"type": "object"}}]},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    seen = claude_stack.api.messages_requests(acct.email)[-1]
    assert "context-1m-2025-08-07" not in seen.headers.get("anthropic-beta", "")
    replayed = seen.json()["messages"][1]["content"]
    assert replayed == [{"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"cmd": "ls"}}]
