"""WebSocket relay to the Amp upstream (current Amp CLIs run their agent over /actors/... this way).

The Amp CLI authenticates the socket with a token in Sec-WebSocket-Protocol and sends no Authorization, so
the offered sub-protocols go upstream unchanged and the one the upstream picks is the one we accept with.
We connect upstream *before* accepting the client: uvicorn can only refuse an upgrade by closing before
accept (the client then sees HTTP 403), so an upstream refusal is mirrored that way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from amp.forward_headers import upstream_websocket_headers
from amp.http_messages import header
from amp.proxy import upstream_base
from amp.settings import AmpSettings

log = logging.getLogger(__name__)

_OPEN_TIMEOUT = 30.0
_UNSENDABLE_CLOSE_CODES = {1005, 1006, 1015}  # reserved: reported locally, never sent in a close frame


def _close_code(code: int | None) -> int:
    return 1000 if code is None or code in _UNSENDABLE_CLOSE_CODES else code


class WebSocketProxy:
    def __init__(self, settings: Callable[[], AmpSettings]) -> None:
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        base = upstream_base(self.settings())
        if base is None:
            await send({"type": "websocket.close", "code": 1011})
            return
        path = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0].decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        scheme = "wss" if base.scheme == "https" else "ws"
        url = str(base.copy_with(scheme=scheme, query=None)).rstrip("/") + path + (f"?{query}" if query else "")
        user_agent = header(scope["headers"], b"user-agent")
        try:
            upstream = await connect(
                url,
                subprotocols=scope.get("subprotocols") or None,
                additional_headers=upstream_websocket_headers(scope["headers"]),
                user_agent_header=user_agent.decode("latin-1") if user_agent else None,
                open_timeout=_OPEN_TIMEOUT,
                max_size=None,
            )
        except (InvalidHandshake, OSError, asyncio.TimeoutError) as exc:
            log.warning("amp: upstream refused WebSocket %s: %s", scope["path"], exc)
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
            await _relay(upstream, receive, send)
        finally:
            await upstream.close()


async def _relay(upstream: ClientConnection, receive: Receive, send: Send) -> None:
    to_upstream = asyncio.create_task(_client_to_upstream(upstream, receive))
    to_client = asyncio.create_task(_upstream_to_client(upstream, send))
    try:
        await asyncio.wait({to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (to_upstream, to_client):
            task.cancel()
        await asyncio.gather(to_upstream, to_client, return_exceptions=True)


async def _client_to_upstream(upstream: ClientConnection, receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            try:
                await upstream.send(text if text is not None else message.get("bytes") or b"")
            except ConnectionClosed:
                return
        elif message["type"] == "websocket.disconnect":
            await upstream.close(code=_close_code(message.get("code")), reason=message.get("reason") or "")
            return


async def _upstream_to_client(upstream: ClientConnection, send: Send) -> None:
    try:
        async for data in upstream:
            if isinstance(data, str):
                await send({"type": "websocket.send", "text": data})
            else:
                await send({"type": "websocket.send", "bytes": data})
    except ConnectionClosed:
        pass
    except OSError:  # the client went away while we were writing to it
        return
    try:
        code, reason = _close_code(upstream.close_code), upstream.close_reason or ""
        await send({"type": "websocket.close", "code": code, "reason": reason})
    except (OSError, RuntimeError):
        pass
