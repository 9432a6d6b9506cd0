"""`python -m benchmarks.fake_upstreams --port P`: the Anthropic and Codex fakes on one loopback port.

The benchmark serves the fakes from their own process so that neither the client nor the gateway
shares a GIL with them: on a 2-core machine a fake in a client thread would slow the client and make
the direct-to-fake baseline look worse than it is. The first stdout line is JSON with the URL and the
tokens of one pre-issued account per vendor. `POST /__bench/mode` switches the reply mode of a fake
(e.g. a paced 2,000-event stream) between benchmark phases; `POST /__bench/reset` drops the fakes'
request records so a long run does not grow the fake's memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, AsyncIterator

import uvicorn

from gateway.demo.fakes.anthropic_api import AnthropicFake
from gateway.demo.fakes.anthropic_replies import long_stream_events, sse
from gateway.demo.fakes.codex_backend import CodexBackendFake
from gateway.demo.fakes.openai_oauth import OpenAIOAuthFake
from gateway.demo.fakes.tokens import TokenBook

CLAUDE_EMAIL = "bench-claude@example.com"
CODEX_EMAIL = "bench-codex@example.com"
_TTL = 30 * 86400  # far beyond the gateway's proactive-refresh lead: no refresh during a run


class PacedAnthropicFake(AnthropicFake):
    """Stamps each long-stream event after the pause that precedes it, not before.

    The stock fake takes the stamp, then sleeps `interval`, then sends, so every measured gap would
    include the pause; for a send-to-receive gap the stamp must be taken right before the send."""

    async def _stream(self, scope: Any, message: dict[str, Any], reply: dict[str, Any]) -> AsyncIterator[bytes]:
        interval = float(reply.get("interval", 0))
        if reply.get("mode") != "long_stream" or not interval:
            async for chunk in super()._stream(scope, message, reply):
                yield chunk
            return
        events = long_stream_events(message, int(reply.get("events", 100)))
        first = True
        while True:
            if not first:
                await asyncio.sleep(interval)
            first = False
            item = next(events, None)
            if item is None:
                return
            yield sse(*item)


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _reply(send: Any, status: int, payload: Any) -> None:
    raw = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": raw})


def build_app(claude: AnthropicFake, codex: CodexBackendFake) -> Any:
    fakes = {"claude": claude, "codex": codex}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/__bench/mode":
            order = json.loads(await _read_body(receive))
            fake = fakes[order["target"]]
            if order.get("reply"):
                fake.set_mode(None, order["reply"])
            else:
                fake.clear_modes()
            return await _reply(send, 200, {"ok": True})
        if path == "/__bench/reset":
            await _read_body(receive)
            for fake in fakes.values():
                fake.recorder.clear()
            return await _reply(send, 200, {"ok": True})
        if path.startswith("/backend-api/"):
            return await codex.app(scope, receive, send)
        if path.startswith("/v1/"):
            return await claude.app(scope, receive, send)
        await _read_body(receive)
        await _reply(send, 404, {"detail": f"the benchmark fakes do not serve {path}"})

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    claude_book = TokenBook(access_ttl=_TTL)
    codex_book = TokenBook(access_prefix="codex-at-", refresh_prefix="codex-rt-", access_ttl=_TTL)
    claude = PacedAnthropicFake(claude_book)
    codex = CodexBackendFake(codex_book)
    oauth = OpenAIOAuthFake(codex_book)  # only to mint the id_token a Codex credential file carries
    c_grant = claude_book.issue(CLAUDE_EMAIL)
    x_grant = codex_book.issue(CODEX_EMAIL, oauth.account_id_for(CODEX_EMAIL))
    print(json.dumps({
        "url": f"http://127.0.0.1:{args.port}",
        "claude": {"email": c_grant.email, "access_token": c_grant.access_token,
                   "refresh_token": c_grant.refresh_token, "expires_at": c_grant.expires_at},
        "codex": {"email": x_grant.email, "access_token": x_grant.access_token,
                  "refresh_token": x_grant.refresh_token, "expires_at": x_grant.expires_at,
                  "account_id": x_grant.account_id, "id_token": oauth.id_token(x_grant)},
    }), flush=True)
    uvicorn.run(build_app(claude, codex), host="127.0.0.1", port=args.port, log_level="warning", http="h11",
                access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
