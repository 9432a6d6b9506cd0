"""The access line: one per request, after the response ended, with the usage once LiteLLM reports it."""

from __future__ import annotations

import logging

import httpx

from gateway import request_log
from gateway.request_log import RequestLog, flush_parked, note_attempt, note_usage, scrub, upstream_error_text
from gateway.usage import Tokens


def llm_app(call_id: str | None):
    async def app(scope, receive, send):
        if call_id:
            note_attempt(call_id, "alice@example.com")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
    return app


async def get(app, path="/v1/messages?key=client-secret-key"):
    transport = httpx.ASGITransport(app=RequestLog(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        return await c.post(path, json={"messages": [{"role": "user", "content": "my prompt"}]})


def access_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "subgate.access"]


async def test_a_line_waits_for_the_usage_and_carries_it(caplog):
    caplog.set_level(logging.INFO, logger="subgate")
    r = await get(llm_app("call-1"))
    assert r.headers["x-request-id"]
    assert access_lines(caplog) == []  # parked: LiteLLM reports usage a moment later
    note_usage("call-1", "alice@example.com", "claude-sonnet", Tokens(10, 5, 2, 1))
    [line] = access_lines(caplog)
    assert line.startswith(r.headers["x-request-id"] + " POST /v1/messages status=200 model=claude-sonnet")
    assert "account=alice@example.com" in line and "tokens_in=10 tokens_out=5 cached=2 reasoning=1" in line
    assert "client-secret-key" not in line and "my prompt" not in line
    note_usage("call-1", "alice@example.com", "claude-sonnet", Tokens(10, 5))
    assert len(access_lines(caplog)) == 1


async def test_usage_that_never_comes_is_flushed_without_tokens(caplog):
    caplog.set_level(logging.INFO, logger="subgate")
    await get(llm_app("call-2"))
    flush_parked(max_age=0)
    [line] = access_lines(caplog)
    assert "status=200" in line and "tokens_in" not in line
    assert "call-2" not in request_log._by_call


async def test_requests_without_an_upstream_attempt_are_written_at_once(caplog):
    caplog.set_level(logging.INFO, logger="subgate")
    await get(llm_app(None), "/v1/models")
    [line] = access_lines(caplog)
    assert " POST /v1/models status=200 model=- account=- latency_ms=" in line


def test_error_bodies_are_decompressed_and_scrubbed():
    import gzip

    class Exc(Exception):
        response = httpx.Response(401, content=gzip.compress(b'{"error": "bad token sk-ant-oat01-abcdefgh", "n": 1}'))

    text = upstream_error_text(Exc())
    assert text == '{"error": "bad token [redacted]", "n": 1}'
    assert scrub("Authorization: Bearer abc.def") == "Authorization: [redacted]"
