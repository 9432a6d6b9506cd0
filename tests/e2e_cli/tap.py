"""A recording pass-through proxy between a real CLI and the gateway.

The fakes show what the gateway sent upstream; the tap shows what the CLI itself sent, so a test can
state both halves of a rewrite ("Claude Code asked for the 1M-context beta, the subscription never
saw it") and report request shapes that drifted from what tests/e2e_cli/clis.py records. It streams in both directions
so the CLI sees the gateway's SSE as it is produced.
"""

from __future__ import annotations

from typing import AsyncIterator

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tests.fakes.recorder import Recorded, Recorder

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class Tap:
    """ASGI app: records each HTTP request, then relays it to `target` unchanged."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.recorder = Recorder()
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10))

    def requests(self, path_suffix: str = "") -> list[Recorded]:
        return self.recorder.for_path(path_suffix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.recorder.record(Recorded(request.method, request.url.path, request.url.query, headers, body))
        url = self.target + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        upstream = await self._client.send(
            self._client.build_request(request.method, url, content=body,
                                       headers=[(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]),
            stream=True,
        )
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        response = StreamingResponse(_relay(upstream), status_code=upstream.status_code, headers=out_headers,
                                     background=BackgroundTask(upstream.aclose))
        await response(scope, receive, send)


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in upstream.aiter_raw():
        yield chunk
