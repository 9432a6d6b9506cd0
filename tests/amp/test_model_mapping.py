"""Where a model request goes: local account, mapped local model, or the Amp upstream (credits)."""

from __future__ import annotations

import logging

import pytest

from amp.model_mapping import ModelMapper, choose_route, split_suffix
from amp.settings import AmpSettings, ModelMapping
from tests.amp.conftest import AUTH

SERVED = {"gemini-2.5-pro", "claude-opus-4.5", "test/gpt-5.2", "claude-sonnet-4-5", "gpt-5.2"}


def serves(name: str) -> bool:
    return name in SERVED


@pytest.mark.parametrize(
    ("name", "expected"),
    [("gpt-5.2(xhigh)", ("gpt-5.2", "xhigh")), ("g25p()", ("g25p", "")), ("g25p(high", ("g25p(high", "")), ("plain", ("plain", ""))],
)
def test_split_suffix(name, expected):
    assert split_suffix(name) == expected


@pytest.mark.parametrize(
    ("mappings", "model", "expected"),
    [
        ([("g25p", "gemini-2.5-pro")], "g25p(8192)", "gemini-2.5-pro(8192)"),
        ([("g25p", "gemini-2.5-pro")], "g25p(high)", "gemini-2.5-pro(high)"),
        ([("g25p", "gemini-2.5-pro")], "g25p(none)", "gemini-2.5-pro(none)"),
        ([("g25p", "gemini-2.5-pro")], "g25p", "gemini-2.5-pro"),
        ([("g25p", "gemini-2.5-pro")], "g25p()", "gemini-2.5-pro"),
        ([("alias", "gemini-2.5-pro(medium)")], "alias(high)", "gemini-2.5-pro(medium)"),
        ([("G25P", "gemini-2.5-pro")], "g25p(high)", "gemini-2.5-pro(high)"),
        ([("Claude-Opus-4.5", "claude-opus-4.5")], "claude-opus-4.5", "claude-opus-4.5"),
        ([("g25p(high", "gemini-2.5-pro")], "g25p(high", "gemini-2.5-pro"),
        ([("gpt-5.2", "test/gpt-5.2")], "gpt-5.2(xhigh)", "test/gpt-5.2(xhigh)"),
        ([("x", "unserved-model")], "x", ""),  # a target no account serves is ignored
        ([("g25p", "gemini-2.5-pro")], "unknown", ""),
        ([("g25p", "gemini-2.5-pro")], "", ""),
        ([("^g25.*", "gemini-2.5-pro", True)], "g25-anything(high)", "gemini-2.5-pro(high)"),
        ([("^gpt-5$", "gemini-2.5-pro", True)], "gpt-5(high)", "gemini-2.5-pro(high)"),
        ([("^CLAUDE-OPUS-.*$", "claude-opus-4.5", True)], "claude-opus-4.5", "claude-opus-4.5"),
        ([("^gpt-.*$", "claude-opus-4.5", True), ("gpt-5", "gemini-2.5-pro")], "gpt-5", "gemini-2.5-pro"),  # exact wins
        ([("(", "gemini-2.5-pro", True), ("g25p", "gemini-2.5-pro")], "g25p", "gemini-2.5-pro"),  # bad regex skipped
        ([("  ", "gemini-2.5-pro"), ("g25p", "  ")], "g25p", ""),  # blank entries skipped
    ],
)
def test_mapper_table(mappings, model, expected):
    mapper = ModelMapper(ModelMapping(*m) for m in mappings)
    assert mapper.map(model, serves) == expected


@pytest.mark.parametrize(
    ("model", "force", "fallback", "upstream", "expected"),
    [
        ("gpt-5.2", False, True, True, ("local", "gpt-5.2")),
        ("gpt-5.2", True, True, True, ("mapped", "claude-opus-4.5")),  # force: mapping wins over local
        ("g25p", False, True, True, ("mapped", "gemini-2.5-pro")),
        ("unknown", False, True, True, ("upstream", "unknown")),
        ("unknown", False, False, True, ("no_provider", "unknown")),
        ("unknown", False, True, False, ("no_provider", "unknown")),
        ("unserved-target", False, True, True, ("upstream", "unserved-target")),
    ],
)
def test_choose_route(model, force, fallback, upstream, expected):
    settings = AmpSettings(
        force_model_mappings=force,
        fallback_to_upstream=fallback,
        model_mappings=(
            ModelMapping("gpt-5.2", "claude-opus-4.5"),
            ModelMapping("g25p", "gemini-2.5-pro"),
            ModelMapping("unserved-target", "nobody-serves-this"),
        ),
    )
    choice = choose_route(model, settings, serves, upstream_available=upstream)
    assert (choice.kind, choice.model) == expected


# --- through the amp app: the stub local app serves claude-sonnet-4-5 and gpt-5.2 ---

MESSAGES = "/api/provider/anthropic/v1/messages"


async def test_locally_served_model_stays_local(harness, upstream):
    h = harness()
    async with h.client() as client:
        response = await client.post(MESSAGES, json={"model": "claude-sonnet-4-5"}, headers=AUTH)
    assert response.json()["model"] == "claude-sonnet-4-5"
    assert len(h.local.calls) == 1 and upstream[1].requests == []


async def test_unknown_model_falls_back_to_the_upstream_and_says_so(harness, upstream, caplog):
    h = harness()
    body = {"model": "claude-opus-4-5-20251101", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}, "signature": ""}]}]}
    with caplog.at_level(logging.WARNING):
        async with h.client() as client:
            response = await client.post(MESSAGES + "?beta=true", json=body, headers={**AUTH, "anthropic-beta": "context-1m-2025-08-07"})
    assert response.json()["content"][0]["text"] == "from the amp upstream"
    assert h.local.calls == []
    seen = upstream[1].requests[-1]
    assert (seen.path, seen.query) == (MESSAGES, "beta=true")
    assert seen.json()["model"] == "claude-opus-4-5-20251101"
    assert "signature" not in seen.json()["messages"][0]["content"][0]  # sanitized body is what goes upstream
    assert seen.headers["content-length"] == str(len(seen.body))
    assert seen.headers["anthropic-beta"] == "context-1m-2025-08-07"  # the paid upstream keeps it
    assert seen.headers["authorization"] == "Bearer upstream-secret"
    credits = [r for r in caplog.records if getattr(r, "label", None) == "AMP_CREDITS"]
    assert len(credits) == 1 and "claude-opus-4-5-20251101" in credits[0].getMessage()
    assert credits[0].component == "amp-routing"


async def test_fallback_off_serves_locally_with_the_local_error(harness, upstream):
    h = harness(fallback_to_upstream=False)
    async with h.client() as client:
        response = await client.post(MESSAGES, json={"model": "claude-opus-4-5-20251101"}, headers=AUTH)
    assert response.status_code == 400
    assert "Invalid model name" in response.text
    assert upstream[1].requests == []


async def test_no_upstream_serves_locally(harness, upstream):
    h = harness(upstream_url="")
    async with h.client() as client:
        response = await client.post(MESSAGES, json={"model": "claude-opus-4-5-20251101"}, headers=AUTH)
    assert response.status_code == 400 and len(h.local.calls) == 1


async def test_mapping_serves_locally_and_restores_the_client_model_name(harness, upstream):
    h = harness(model_mappings=(ModelMapping("claude-opus-4-5-20251101", "claude-sonnet-4-5"),))
    async with h.client() as client:
        response = await client.post(MESSAGES, json={"model": "claude-opus-4-5-20251101(high)"}, headers=AUTH)
    assert h.local.calls[-1].json()["model"] == "claude-sonnet-4-5(high)"
    assert response.json()["model"] == "claude-opus-4-5-20251101(high)"
    assert response.headers["content-length"] == str(len(response.content))
    assert upstream[1].requests == []


async def test_mapping_to_an_unserved_target_is_ignored(harness, upstream):
    h = harness(model_mappings=(ModelMapping("claude-opus-4-5-20251101", "not-served"),))
    async with h.client() as client:
        await client.post(MESSAGES, json={"model": "claude-opus-4-5-20251101"}, headers=AUTH)
    assert h.local.calls == []
    assert upstream[1].requests[-1].json()["model"] == "claude-opus-4-5-20251101"


async def test_force_mode_maps_even_a_locally_served_model(harness, upstream):
    h = harness(force_model_mappings=True, model_mappings=(ModelMapping("gpt-5.2", "claude-sonnet-4-5"),))
    async with h.client() as client:
        response = await client.post("/api/provider/openai/v1/chat/completions", json={"model": "gpt-5.2"}, headers=AUTH)
    assert h.local.calls[-1].json()["model"] == "claude-sonnet-4-5"
    assert response.json()["model"] == "gpt-5.2"


async def test_mappings_are_read_per_request(harness, upstream):
    h = harness()
    async with h.client() as client:
        await client.post(MESSAGES, json={"model": "opus-x"}, headers=AUTH)
        h.update(model_mappings=(ModelMapping("opus-x", "claude-sonnet-4-5"),))
        await client.post(MESSAGES, json={"model": "opus-x"}, headers=AUTH)
    assert len(upstream[1].requests) == 1
    assert h.local.calls[-1].json()["model"] == "claude-sonnet-4-5"


async def test_gemini_vertex_path_goes_upstream_with_a_credits_warning(harness, upstream, caplog):
    path = "/api/provider/google/v1beta1/publishers/google/models/gemini-3-pro-preview:streamGenerateContent"
    with caplog.at_level(logging.WARNING):
        async with harness().client() as client:
            response = await client.post(path + "?alt=sse", json={"contents": []}, headers=AUTH)
    assert response.status_code == 200
    assert (upstream[1].requests[-1].path, upstream[1].requests[-1].query) == (path, "alt=sse")
    assert "gemini-3-pro-preview" in caplog.text and "AMP_CREDITS" in caplog.text


async def test_gemini_vertex_path_with_fallback_off_is_not_sent(harness, upstream):
    path = "/api/provider/google/v1beta1/publishers/google/models/gemini-3-pro-preview:generateContent"
    async with harness(fallback_to_upstream=False).client() as client:
        response = await client.post(path, json={}, headers=AUTH)
    assert response.status_code == 404
    assert upstream[1].requests == []
