"""Amp's /api/provider/{p}/... aliases land on the gateway's own /v1 routes, in-process."""

from __future__ import annotations

import pytest

from amp import is_management_path
from tests.amp.conftest import AUTH

POST_ALIASES = [
    ("/api/provider/openai/v1/chat/completions", "/v1/chat/completions"),
    ("/api/provider/groq/chat/completions", "/v1/chat/completions"),
    ("/api/provider/openai/v1/completions", "/v1/completions"),
    ("/api/provider/cerebras/completions", "/v1/completions"),
    ("/api/provider/openai/v1/responses", "/v1/responses"),
    ("/api/provider/openai/responses", "/v1/responses"),
    ("/api/provider/anthropic/v1/messages", "/v1/messages"),
    ("/api/provider/anthropic/v1/messages/count_tokens", "/v1/messages/count_tokens"),
]


@pytest.mark.parametrize(("alias", "local"), POST_ALIASES)
async def test_post_aliases_are_rewritten_with_query_kept(harness, upstream, alias, local):
    h = harness()
    async with h.client() as client:
        response = await client.post(alias + "?beta=true", json={"model": "claude-sonnet-4-5"}, headers=AUTH)
    assert response.status_code == 200, response.text
    call = h.local.calls[-1]
    assert (call.path, call.raw_path, call.query) == (local, local.encode(), b"beta=true")
    assert call.json() == {"model": "claude-sonnet-4-5"}
    assert call.headers["authorization"] == f"Bearer {AUTH['Authorization'][7:]}"  # the gateway's key check sees it
    assert upstream[1].requests == []


@pytest.mark.parametrize("provider", ["openai", "groq", "cerebras", "google", "OpenAI"])
@pytest.mark.parametrize("sub", ["models", "v1/models"])
async def test_models_list_in_openai_shape(harness, provider, sub):
    h = harness()
    async with h.client() as client:
        response = await client.get(f"/api/provider/{provider}/{sub}", headers={**AUTH, "anthropic-version": "2023-06-01"})
    assert response.status_code == 200
    assert response.json()["object"] == "list"
    assert h.local.calls[-1].path == "/v1/models"
    assert "anthropic-version" not in h.local.calls[-1].headers


@pytest.mark.parametrize("sub", ["models", "v1/models"])
async def test_models_list_for_anthropic_asks_for_anthropic_shape(harness, sub):
    h = harness()
    async with h.client() as client:
        response = await client.get(f"/api/provider/anthropic/{sub}", headers=AUTH)
    assert response.status_code == 200
    assert "data" in response.json() and "object" not in response.json()
    assert h.local.calls[-1].headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/provider/openai/v1/embeddings"),
        ("GET", "/api/provider/openai/v1/chat/completions"),
        ("POST", "/api/provider/openai/v1/models"),
        ("POST", "/api/provider/google/v1beta/models/gemini:generateContent"),
        ("GET", "/api/provider/"),
    ],
)
async def test_unregistered_alias_sub_paths_are_404(harness, upstream, method, path):
    h = harness()
    async with h.client() as client:
        response = await client.request(method, path, headers=AUTH, json={"model": "gpt-5.2"})
    assert response.status_code == 404
    assert h.local.calls == [] and upstream[1].requests == []


async def test_betas_reach_the_local_routes_as_sent(harness):
    """The alias takes the direct route's path: the provider it is routed to drops what it cannot use
    (Claude: custom_providers/claude/shaping.py; end to end in tests/e2e/test_amp.py)."""
    h = harness()
    async with h.client() as client:
        await client.post(
            "/api/provider/anthropic/v1/messages",
            json={"model": "claude-sonnet-4-5"},
            headers={**AUTH, "anthropic-beta": "a, context-1m-2025-08-07 , c"},
        )
    assert h.local.calls[0].headers["anthropic-beta"] == "a, context-1m-2025-08-07 , c"


async def test_changed_body_gets_a_matching_content_length(harness):
    h = harness()
    h.update(model_mappings=())
    body = (b'{"model": "claude-sonnet-4-5", "messages": [{"role": "assistant", "content": '
            b'[{"type": "tool_use", "id": "t", "name": "Bash", "input": {}, "signature": ""}]}]}')
    async with h.client() as client:
        await client.post("/api/provider/anthropic/v1/messages", content=body, headers={**AUTH, "content-type": "application/json"})
    call = h.local.calls[-1]
    assert call.json()["messages"][0]["content"] == [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]
    assert call.headers["content-length"] == str(len(call.body))


async def test_non_amp_requests_and_lifespan_go_to_the_local_app_unchanged(harness, upstream):
    h = harness()
    async with h.client() as client:
        response = await client.post("/v1/messages?x=1", json={"model": "claude-sonnet-4-5"}, headers=AUTH)
    assert response.status_code == 200
    assert (h.local.calls[-1].path, h.local.calls[-1].query) == ("/v1/messages", b"x=1")

    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(events)

    async def send(message):
        sent.append(message["type"])

    await h.app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert upstream[1].requests == []


@pytest.mark.parametrize(
    ("path", "managed"),
    [
        ("/api/internal", True), ("/api/internal/x", True), ("/api/thread-actors", True), ("/api/ads", True),
        ("/api/ads/x", False), ("/actors/gateway/x", True), ("/threads", True), ("/threads.rss", True),
        ("/news.rss", True), ("/auth/cli-login", True), ("/docs", True), ("/settings/x", True),
        ("/api/provider/google/v1beta1/publishers/google/models/gemini:generateContent", True),
        ("/api/provider/anthropic/v1/messages", False), ("/v1/messages", False), ("/threadsx", False),
        ("/api/internalx", False), ("/actors", False), ("/", False),
    ],
)  # fmt: skip
def test_is_management_path(path, managed):
    assert is_management_path(path) is managed
