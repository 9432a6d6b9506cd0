"""Management routes are for this machine only, judged by the socket peer; forwarded headers prove nothing.

The amp app is driven in-process with a crafted scope["client"] (httpx.ASGITransport's `client`), which is
exactly what uvicorn fills from the TCP peer; no non-loopback network is touched.
"""

from __future__ import annotations

import pytest

from amp.localhost_guard import is_loopback_peer
from tests.amp.conftest import AUTH

DENIED = {"error": "Access denied: management routes restricted to localhost"}


@pytest.mark.parametrize(
    ("peer", "headers", "allowed"),
    [
        ("127.0.0.1", {}, True),
        ("127.0.0.2", {}, True),
        ("::1", {}, True),
        ("::ffff:127.0.0.1", {}, True),
        ("10.0.0.5", {}, False),
        ("192.168.1.100", {"X-Forwarded-For": "127.0.0.1"}, False),
        ("203.0.113.42", {}, False),
        ("2001:db8::1", {}, False),
        ("203.0.113.42", {"X-Forwarded-For": "::1"}, False),
        ("203.0.113.42", {"X-Real-IP": "127.0.0.1"}, False),
        ("::ffff:203.0.113.42", {}, False),
        ("not-an-ip", {}, False),
    ],
)
async def test_peer_address_table(harness, upstream, peer, headers, allowed):
    async with harness().client(peer=peer) as client:
        response = await client.get("/api/user", headers={**AUTH, **headers})
    if allowed:
        assert response.status_code == 200
        assert len(upstream[1].requests) == 1
    else:
        assert (response.status_code, response.json()) == (403, DENIED)
        assert upstream[1].requests == []


async def test_every_management_kind_is_guarded_but_aliases_are_not(harness, upstream):
    h = harness()
    async with h.client(peer="203.0.113.42") as client:
        for path in ("/api/internal?getUserInfo", "/threads", "/auth/cli-login", "/threads.rss", "/actors/x"):
            assert (await client.get(path, headers=AUTH)).status_code == 403, path
        alias = await client.post("/api/provider/anthropic/v1/messages", json={"model": "claude-sonnet-4-5"}, headers=AUTH)
        models = await client.get("/api/provider/openai/v1/models", headers=AUTH)
    assert alias.status_code == 200 and models.status_code == 200
    assert upstream[1].requests == []


async def test_remote_caller_with_a_valid_key_is_still_refused_and_local_without_key_gets_401(harness):
    h = harness()
    async with h.client(peer="10.0.0.5") as remote, h.client() as local:
        assert (await remote.get("/api/user", headers=AUTH)).status_code == 403
        assert (await remote.get("/api/user")).status_code == 403  # localhost check before auth
        assert (await local.get("/api/user")).status_code == 401


async def test_no_upstream_answers_503_before_the_localhost_check(harness):
    async with harness(upstream_url="").client(peer="10.0.0.5") as client:
        response = await client.get("/api/user", headers=AUTH)
    assert response.status_code == 503


async def test_restriction_is_read_per_request(harness):
    h = harness()
    async with h.client(peer="203.0.113.42") as client:
        assert (await client.get("/api/user", headers=AUTH)).status_code == 403
        h.update(restrict_management_to_localhost=False)
        assert (await client.get("/api/user", headers=AUTH)).status_code == 200
        h.update(restrict_management_to_localhost=True)
        assert (await client.get("/api/user", headers=AUTH)).status_code == 403


async def test_remote_websocket_upgrade_is_closed_before_accept(harness):
    h = harness()
    sent: list[dict] = []
    messages = iter([{"type": "websocket.connect"}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "websocket", "path": "/actors/gateway/threadActor/websocket/", "raw_path": b"/actors/gateway/threadActor/websocket/",
        "query_string": b"rvt-1", "headers": [], "client": ("203.0.113.42", 4000), "subprotocols": ["tok"],
    }  # fmt: skip
    await h.app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_missing_client_is_not_loopback():
    assert not is_loopback_peer({"type": "http", "client": None})
    assert is_loopback_peer({"type": "http", "client": ("127.255.255.254", 1)})
