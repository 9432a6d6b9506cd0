"""A fake ampcode.com: the management RPCs, SSE, gzip quirks, a model route and the /actors WebSocket.

Every HTTP request is recorded (raw query string and headers included) so tests can assert what reached
the upstream. Paths:

    ANY  /api/internal[/...]             JSON {"ok": true, "path", "query"}; scripted replies via the recorder
    GET  /api/internal/sse?n=3&delay=0.3 SSE ticks `data: {"tick": i}` with a delay between them
    GET  /api/internal/gzip?status=404   gzip JSON body *without* Content-Encoding, chosen status
    GET  /api/internal/gzip-labelled     gzip JSON body with Content-Encoding: gzip
    GET  /api/internal/gzip-sse          text/event-stream whose bytes are gzip, unlabelled
    GET  /api/internal/corrupt-gzip      magic bytes then garbage;  /truncated-gzip: cut gzip
    GET  /api/internal/one-byte          the single byte 0x1f
    GET  /api/internal/fail?status=500   an error JSON with that status
    GET  /api/internal/cors              a reply carrying Access-Control-Allow-* headers
    POST /api/provider/anthropic/v1/messages   an Anthropic message; the model asked for is recorded
    GET  /threads, /settings, /docs..., /auth/...   small HTML pages; anything else: JSON echo
    WS   /actors/...                     accepts the first offered sub-protocol, sends {"protocol", "headers"},
                                         then echoes; /actors/refuse closes before accept
"""

from __future__ import annotations

import asyncio
import gzip
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.fakes.recorder import Recorded, Recorder

GZIPPED_JSON = gzip.compress(b'{"upstream":"ok"}', mtime=0)
GZIPPED_SSE = gzip.compress(b'data: {"tick": 0}\n\n', mtime=0)


def create_app() -> tuple[Starlette, Recorder]:
    recorder = Recorder()

    async def record(request: Request) -> Recorded:
        item = Recorded(
            method=request.method,
            path=request.url.path,
            query=request.scope["query_string"].decode("latin-1"),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]},
            body=await request.body(),
        )
        recorder.record(item)
        return item

    async def internal(request: Request) -> Response:
        item = await record(request)
        name = request.url.path.removeprefix("/api/internal").strip("/")
        params = request.query_params
        if name == "sse":
            return StreamingResponse(_ticks(int(params.get("n", "3")), float(params.get("delay", "0.3"))), media_type="text/event-stream")
        if name == "gzip":
            return Response(GZIPPED_JSON, status_code=int(params.get("status", "200")), media_type="application/json")
        if name == "gzip-labelled":
            return Response(GZIPPED_JSON, media_type="application/json", headers={"content-encoding": "gzip"})
        if name == "gzip-sse":
            return Response(GZIPPED_SSE, media_type="text/event-stream")
        if name == "corrupt-gzip":
            return Response(b"\x1f\x8bnot really gzip at all", media_type="application/json")
        if name == "truncated-gzip":
            return Response(GZIPPED_JSON[:10], media_type="application/json")
        if name == "one-byte":
            return Response(b"\x1f", media_type="application/octet-stream")
        if name == "fail":
            return JSONResponse({"error": "upstream failure"}, status_code=int(params.get("status", "500")))
        if name == "cors":
            return JSONResponse(
                {"cors": True},
                headers={
                    "access-control-allow-origin": "*",
                    "access-control-allow-credentials": "true",
                    "access-control-allow-methods": "GET",
                    "access-control-allow-headers": "*",
                },
            )
        scripted = recorder.next_reply(None)
        if scripted is not None:
            return JSONResponse(scripted.get("json", {}), status_code=scripted.get("status", 200))
        return JSONResponse({"ok": True, "path": item.path, "query": item.query})

    async def messages(request: Request) -> Response:
        item = await record(request)
        model = item.json().get("model")
        return JSONResponse(
            {
                "id": "msg_upstream",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "from the amp upstream"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        )

    async def page(request: Request) -> Response:
        await record(request)
        return HTMLResponse(f"<html><body>amp page {request.url.path}</body></html>")

    async def echo(request: Request) -> Response:
        item = await record(request)
        return JSONResponse({"path": item.path, "query": item.query, "method": item.method})

    async def actors(websocket: WebSocket) -> None:
        if websocket.url.path.endswith("/refuse"):
            await websocket.close(code=1008)
            return
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=offered[0] if offered else None)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in websocket.scope["headers"]}
        await websocket.send_json({"protocol": headers.get("sec-websocket-protocol"), "headers": headers, "query": websocket.scope["query_string"].decode()})
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    if message["text"] == "close-please":
                        await websocket.close(code=4001, reason="asked to")
                        return
                    await websocket.send_text("echo:" + message["text"])
                else:
                    await websocket.send_bytes(b"echo:" + message["bytes"])
        except Exception:
            return

    any_method = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
    app = Starlette(
        routes=[
            Route("/api/internal", internal, methods=any_method),
            Route("/api/internal/{rest:path}", internal, methods=any_method),
            Route("/api/provider/anthropic/v1/messages", messages, methods=["POST"]),
            Route("/threads", page),
            Route("/threads/{rest:path}", page),
            Route("/settings", page),
            Route("/docs/{rest:path}", page),
            Route("/auth/{rest:path}", page),
            WebSocketRoute("/actors/{rest:path}", actors),
            Route("/{rest:path}", echo, methods=any_method),
        ]
    )
    return app, recorder


async def _ticks(n: int, delay: float):
    for i in range(n):
        if i:
            await asyncio.sleep(delay)
        yield f"data: {json.dumps({'tick': i})}\n\n".encode()
