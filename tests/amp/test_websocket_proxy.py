"""Current Amp CLIs run their agent over a WebSocket at /actors/...: the relay must carry it intact."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.servers import ServerThread

ACTOR_PATH = "/actors/gateway/threadActor/websocket/?rvt-abc=1&rvt-def"
TOKEN_PROTOCOL = "rivet_token.eyJhbGciOi.secret-token-value"


def ws_url(server: ServerThread, path: str = ACTOR_PATH) -> str:
    return server.url.replace("http://", "ws://") + path


async def test_round_trip_keeps_subprotocol_and_query(served_harness):
    with ServerThread(served_harness().app, proxy_headers=False) as gateway:
        async with connect(ws_url(gateway), subprotocols=[TOKEN_PROTOCOL, "rivet"], user_agent_header="amp-cli/1") as ws:
            assert ws.subprotocol == TOKEN_PROTOCOL
            hello = json.loads(await ws.recv())
            await ws.send("ping")
            assert await ws.recv() == "echo:ping"
            await ws.send(b"\x00\x01binary")
            assert await ws.recv() == b"echo:\x00\x01binary"
    assert hello["protocol"] == f"{TOKEN_PROTOCOL}, rivet"
    assert hello["query"] == "rvt-abc=1&rvt-def"
    assert hello["headers"]["user-agent"] == "amp-cli/1"
    assert "authorization" not in hello["headers"] and "x-api-key" not in hello["headers"]


async def test_upstream_close_code_reaches_the_client(served_harness):
    with ServerThread(served_harness().app, proxy_headers=False) as gateway:
        async with connect(ws_url(gateway), subprotocols=[TOKEN_PROTOCOL]) as ws:
            await ws.recv()
            await ws.send("close-please")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert (ws.close_code, ws.close_reason) == (4001, "asked to")


async def test_client_credentials_never_travel_on_the_socket(served_harness):
    with ServerThread(served_harness().app, proxy_headers=False) as gateway:
        headers = {"Authorization": "Bearer client-key", "X-Forwarded-For": "1.2.3.4", "X-Amp-Installation-ID": "inst"}
        async with connect(ws_url(gateway), subprotocols=[TOKEN_PROTOCOL], additional_headers=headers) as ws:
            hello = json.loads(await ws.recv())
    assert "authorization" not in hello["headers"]
    assert "x-forwarded-for" not in hello["headers"]
    assert hello["headers"]["x-amp-installation-id"] == "inst"


async def test_refused_upstream_upgrade_is_refused_to_the_client(served_harness):
    with ServerThread(served_harness().app, proxy_headers=False) as gateway:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(gateway, "/actors/refuse"), subprotocols=[TOKEN_PROTOCOL]):
                pass
    assert refused.value.response.status_code == 403


async def test_no_upstream_refuses_the_upgrade(served_harness):
    with ServerThread(served_harness(upstream_url="").app, proxy_headers=False) as gateway:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(gateway), subprotocols=[TOKEN_PROTOCOL]):
                pass
    assert refused.value.response.status_code == 403
