"""Raw-ASGI building blocks shared by the Amp pieces: header lists, request bodies, small JSON answers.

The Amp layer sits in front of LiteLLM as plain ASGI callables (no framework request objects), so that
streams pass through untouched; these helpers keep that code short without hiding the messages.
"""

from __future__ import annotations

import json

from typing import Iterable

from starlette.types import Message, Receive, Send


Headers = list[tuple[bytes, bytes]]


class ClientGone(Exception):
    """The client disconnected while we were still reading its request."""


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """First value of `name` (lower-case) in an ASGI header list."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def without_headers(headers: Iterable[tuple[bytes, bytes]], names: Iterable[bytes]) -> Headers:
    drop = {n.lower() for n in names}
    return [(k, v) for k, v in headers if k.lower() not in drop]


def with_header(headers: Iterable[tuple[bytes, bytes]], name: bytes, value: bytes | None) -> Headers:
    """Replace every `name` header by one `value` (or remove them when value is None)."""
    kept = without_headers(headers, [name])
    if value is not None:
        kept.append((name, value))
    return kept


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_receive(body: bytes, receive: Receive) -> Receive:
    """A receive that yields `body` once, then defers to the real one (which reports the disconnect)."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive


async def send_json(send: Send, status: int, body: dict) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def send_empty(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def refuse_websocket(receive: Receive, send: Send) -> None:
    """Close before accept: uvicorn then answers the upgrade with an HTTP 403."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008})
