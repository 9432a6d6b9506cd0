"""The management reverse proxy against the fake ampcode upstream: what reaches it, what comes back."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

from tests.amp.conftest import AUTH, CLIENT_KEY, UPSTREAM_SECRET
from tests.servers import ServerThread, free_port

MANAGEMENT_GETS = [
    "/api/internal", "/api/internal/some/path", "/api/user", "/api/user/profile", "/api/auth", "/api/auth/login",
    "/api/meta", "/api/telemetry", "/api/threads", "/api/otel", "/api/tab", "/api/tab/some/path", "/api/ads",
    "/threads", "/threads/", "/threads/T-123", "/threads.rss", "/news.rss", "/docs", "/docs/guide",
    "/settings", "/settings/profile", "/auth", "/auth/cli-login", "/auth/callback", "/actors/gateway/x",
]  # fmt: skip


@pytest.mark.parametrize("path", MANAGEMENT_GETS)
async def test_every_management_route_reaches_the_upstream(harness, upstream, path):
    async with harness().client() as client:
        response = await client.get(path, headers=AUTH)
    assert response.status_code == 200, response.text
    assert upstream[1].requests[-1].path == path


async def test_post_thread_actors_is_proxied(harness, upstream):
    async with harness().client() as client:
        response = await client.post("/api/thread-actors", json={"x": 1}, headers=AUTH)
    assert response.status_code == 200
    seen = upstream[1].requests[-1]
    assert (seen.method, seen.path, seen.json()) == ("POST", "/api/thread-actors", {"x": 1})


async def test_unlisted_api_path_is_not_an_amp_route(harness, upstream):
    h = harness()
    async with h.client() as client:
        await client.get("/api/thread-actors/extra", headers=AUTH)
        await client.get("/api/somethingelse", headers=AUTH)
    assert upstream[1].requests == []
    assert [c.path for c in h.local.calls] == ["/api/thread-actors/extra", "/api/somethingelse"]


async def test_raw_query_string_is_forwarded_byte_for_byte(harness, upstream):
    async with harness().client() as client:
        response = await client.post("/api/internal?getUserInfo", json={}, headers=AUTH)
        await client.post("/api/internal?uploadThread&b=2&a=1&x=%2F", json={}, headers=AUTH)
    assert response.json()["query"] == "getUserInfo"
    assert [r.query for r in upstream[1].requests] == ["getUserInfo", "uploadThread&b=2&a=1&x=%2F"]


async def test_client_key_is_dropped_from_the_query_but_other_values_stay(harness, upstream):
    async with harness().client() as client:
        response = await client.get(
            f"/api/internal?key={CLIENT_KEY}&key=keep&auth_token={CLIENT_KEY}&foo=bar&getUserInfo",
            headers={"Authorization": f"Bearer {CLIENT_KEY}", "X-Api-Key": CLIENT_KEY, "X-Goog-Api-Key": CLIENT_KEY},
        )
    assert response.status_code == 200
    seen = upstream[1].requests[-1]
    assert seen.query == "key=keep&foo=bar&getUserInfo"
    assert CLIENT_KEY not in str(seen.headers)


async def test_credentials_and_fingerprints_are_stripped_and_the_secret_injected(harness, upstream):
    scrubbed = {
        "X-Forwarded-For": "1.2.3.4", "X-Forwarded-Host": "evil", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "1",
        "X-Real-IP": "1.2.3.4", "Forwarded": "for=1.2.3.4", "Via": "1.1 proxy", "X-Title": "t", "X-Stainless-Lang": "js",
        "X-Stainless-Os": "Linux", "X-Stainless-Runtime-Version": "v20", "Http-Referer": "r", "Referer": "r",
        "Sec-Ch-Ua": "x", "Sec-Fetch-Mode": "cors", "Priority": "u=1", "Accept-Encoding": "br, zstd",
    }  # fmt: skip
    kept = {"X-Amp-Client-Application": "cli", "X-Amp-Device-Fingerprint": "fp", "User-Agent": "amp/1", "Cookie": "c=1"}
    async with harness().client() as client:
        await client.get("/api/user", headers={**scrubbed, **kept, "X-Api-Key": CLIENT_KEY, "X-Goog-Api-Key": "g"})
    seen = upstream[1].requests[-1].headers
    for name in scrubbed:
        if name != "Accept-Encoding":
            assert name.lower() not in seen, name
    assert seen["accept-encoding"] == "gzip"  # ours, not the client's br/zstd
    assert "x-goog-api-key" not in seen
    assert seen["x-api-key"] == UPSTREAM_SECRET
    assert seen["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    assert seen["host"] == upstream[0].removeprefix("http://")
    for name, value in kept.items():
        assert seen[name.lower()] == value


async def test_no_secret_means_no_auth_headers_upstream(harness, upstream):
    async with harness(secret="").client() as client:
        await client.get("/api/user", headers=AUTH)
    seen = upstream[1].requests[-1].headers
    assert "authorization" not in seen and "x-api-key" not in seen


async def test_request_body_reaches_the_upstream_intact(harness, upstream):
    body = b'{"method":"uploadThread","params":{"n":12345678901234567890,"f":1.10}}'
    async with harness().client() as client:
        await client.post("/api/internal?uploadThread", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert upstream[1].requests[-1].body == body


async def test_upstream_status_and_body_pass_through(harness, upstream):
    async with harness().client() as client:
        response = await client.get("/api/internal/fail?status=503", headers=AUTH)
    assert response.status_code == 503
    assert response.json() == {"error": "upstream failure"}


async def test_upstream_down_gives_502(harness, caplog):
    dead = f"http://127.0.0.1:{free_port()}"
    async with harness(upstream_url=dead).client() as client:
        response = await client.get("/api/user", headers=AUTH)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "amp_upstream_proxy_error", "message": "Failed to reach Amp upstream"}


async def test_no_upstream_gives_503_but_aliases_still_reach_the_local_app(harness):
    h = harness(upstream_url="")
    async with h.client() as client:
        management = await client.get("/api/user", headers=AUTH)
        browser = await client.get("/threads")
        alias = await client.post("/api/provider/openai/v1/chat/completions", json={"model": "gpt-5.2"}, headers=AUTH)
        models = await client.get("/api/provider/openai/models", headers=AUTH)
    assert (management.status_code, management.json()) == (503, {"error": "amp upstream proxy not available"})
    assert browser.status_code == 503
    assert alias.status_code == 200 and models.status_code == 200
    assert [c.path for c in h.local.calls] == ["/v1/chat/completions", "/v1/models"]


async def test_upstream_added_at_runtime_is_used_without_a_restart(harness, upstream):
    h = harness(upstream_url="")
    async with h.client() as client:
        assert (await client.get("/api/user", headers=AUTH)).status_code == 503
        h.update(upstream_url=upstream[0])
        assert (await client.get("/api/user", headers=AUTH)).status_code == 200
        h.update(upstream_url="")
        assert (await client.get("/api/user", headers=AUTH)).status_code == 503


async def test_unusable_upstream_url_is_treated_as_no_upstream(harness):
    async with harness(upstream_url="://invalid-url").client() as client:
        response = await client.get("/api/user", headers=AUTH)
    assert response.status_code == 503


async def test_cors_headers_are_stripped_and_options_refused(harness, upstream):
    async with harness().client() as client:
        response = await client.get("/api/internal/cors", headers=AUTH)
        preflight = await client.options("/api/internal", headers={**AUTH, "Origin": "https://evil.example"})
    assert response.json() == {"cors": True}
    assert not [h for h in response.headers if h.lower().startswith("access-control-allow-")]
    assert preflight.status_code == 403
    assert all(r.method != "OPTIONS" for r in upstream[1].requests)


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "Missing API key"), ({"Authorization": "Bearer wrong"}, "Invalid API key")],
)
async def test_management_routes_require_the_client_key(harness, upstream, headers, message):
    async with harness().client() as client:
        response = await client.get("/api/user", headers=headers)
        rss = await client.get("/threads.rss", headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": message})
    assert rss.status_code == 401
    assert upstream[1].requests == []


@pytest.mark.parametrize("path", ["/threads", "/threads/T-1", "/auth", "/auth/cli-login", "/docs", "/docs/x", "/settings", "/settings/a"])
async def test_browser_pages_skip_client_auth(harness, upstream, path):
    async with harness().client() as client:
        response = await client.get(path)
    assert response.status_code == 200
    seen = upstream[1].requests[-1]
    assert seen.path == path
    assert seen.headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"


async def test_redirects_are_passed_back_not_followed(harness, upstream):
    upstream[1].script({"status": 302, "json": {}})
    async with harness().client() as client:
        response = await client.get("/api/internal/redirect-me", headers=AUTH)
    assert response.status_code == 302
    assert len(upstream[1].requests) == 1


def test_sse_is_streamed_tick_by_tick_not_buffered(served_harness):
    h = served_harness()
    with ServerThread(h.app, proxy_headers=False) as gateway:
        arrivals: list[float] = []
        started = time.monotonic()
        with httpx.stream("GET", f"{gateway.url}/api/internal/sse?n=3&delay=0.4", headers=AUTH, timeout=10) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data:"):
                    arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 3
    assert arrivals[0] < 0.3, arrivals  # the first tick did not wait for the others
    assert arrivals[1] - arrivals[0] > 0.25 and arrivals[2] - arrivals[1] > 0.25, arrivals


def test_client_hanging_up_mid_stream_is_silent(served_harness, caplog):
    h = served_harness()
    caplog.set_level(logging.INFO)
    with ServerThread(h.app, proxy_headers=False) as gateway:
        with httpx.stream("GET", f"{gateway.url}/api/internal/sse?n=50&delay=0.05", headers=AUTH, timeout=10) as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    break  # leave after the first tick: the connection is closed
        time.sleep(0.3)
    amp_records = [r for r in caplog.records if r.name.startswith("amp")]
    assert amp_records == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


async def test_client_gone_mid_stream_stops_the_relay_without_an_error_reply(harness, upstream):
    h = harness()
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    first = True

    async def receive_body_then_leave():
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/api/internal/sse", "raw_path": b"/api/internal/sse", "query_string": b"n=2&delay=5",
        "headers": [(b"authorization", f"Bearer {CLIENT_KEY}".encode())], "client": ("127.0.0.1", 5), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    await asyncio.wait_for(h.app(scope, receive_body_then_leave, send), timeout=2)  # not the upstream's 5 s
    # The fake sends its first tick at once; after the hang-up nothing more is written and no error is sent.
    assert all(m.get("status") in (None, 200) for m in sent)
    assert not any(m["type"] == "http.response.body" and m.get("more_body") is False for m in sent)


async def test_default_secret_source_reads_amp_api_key_from_the_environment(upstream, monkeypatch, tmp_path):
    from amp import build_amp_app
    from amp.settings import AmpSettings
    from tests.amp.conftest import StubLocalApp

    monkeypatch.setenv("AMP_API_KEY", "from-env")
    settings = AmpSettings(upstream_url=upstream[0], secrets_file=str(tmp_path / "none.json"))
    app = build_amp_app(StubLocalApp(), settings=lambda: settings, local_models=lambda m: False, authenticate=lambda s: None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway.test") as client:
        await client.get("/api/user")
    assert upstream[1].requests[-1].headers["x-api-key"] == "from-env"


def test_upstream_base_path_is_joined_with_the_incoming_path():
    from amp.proxy import upstream_url

    scope = {"path": "/api/user", "raw_path": b"/api/user"}
    assert str(upstream_url(httpx.URL("https://amp.example/base/"), scope, b"getUserInfo")) == "https://amp.example/base/api/user?getUserInfo"
    assert str(upstream_url(httpx.URL("https://ampcode.com"), scope, b"")) == "https://ampcode.com/api/user"


async def test_bodiless_requests_go_upstream_without_a_body(harness, upstream):
    async with harness().client() as client:
        await client.get("/api/user", headers=AUTH)
    seen = upstream[1].requests[-1].headers
    assert "transfer-encoding" not in seen and "content-length" not in seen
