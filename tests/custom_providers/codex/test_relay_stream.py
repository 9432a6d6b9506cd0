"""`litellm.aresponses` for a client that spoke Responses: the Codex backend's stream comes back as its
own bytes (custom_providers/codex/relay_stream.py), with tool names the request shortened put back."""

from __future__ import annotations

import json
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "true")

import litellm  # noqa: E402

from custom_providers import client_request  # noqa: E402
from custom_providers.codex import litellm_adapter  # noqa: E402
from custom_providers.codex.litellm_adapter import register, serve_as_responses  # noqa: E402
from custom_providers.codex.relay_stream import RelayedEvent  # noqa: E402
from custom_providers.sse import iter_events  # noqa: E402

LONG = "mcp__" + "filesystem_server_" * 3 + "__read_text_file_with_a_rather_long_name"
TOOLS = [{"type": "function", "name": LONG, "description": "Read a file",
          "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}]
register()


async def _relayed(base, grant, body: dict) -> list[RelayedEvent]:
    token = client_request.record(client_request.ClientRequest("responses", {}, raw=json.dumps(body).encode()))
    try:
        stream = await litellm.aresponses(model="chatgpt/gpt-5.1-codex", api_base=base, api_key=grant.access_token,
                                          extra_headers={"ChatGPT-Account-Id": grant.account_id},
                                          **{k: v for k, v in body.items() if k != "model"})
        return [chunk async for chunk in stream]
    finally:
        client_request._current.reset(token)


async def test_the_backends_bytes_come_back_event_by_event(codex_base, codex_backend, alice):
    codex_backend.set_mode(alice.email, {"extras": True})
    chunks = await _relayed(codex_base, alice, {"model": "gpt-5.1-codex", "input": "hi", "stream": True})
    assert all(isinstance(c, RelayedEvent) for c in chunks)
    assert b"".join(chunks) == bytes(codex_backend.streamed[alice.email])
    assert [c.type for c in chunks][:2] == ["response.created", "response.brand_new_event"]


async def test_shortened_tool_names_are_put_back_in_the_relayed_events(codex_base, codex_backend, alice):
    body = {"model": "gpt-5.1-codex", "input": "read it", "stream": True, "tools": TOOLS}
    codex_backend.set_mode(alice.email, {"tool_calls": 1})
    received = b"".join(await _relayed(codex_base, alice, body))
    sent = bytes(codex_backend.streamed[alice.email])
    short = codex_backend.bodies()[-1]["tools"][0]["name"]
    assert short != LONG and short.encode() in sent
    assert short.encode() not in received and LONG.encode() in received
    untouched = [e.raw for e in iter_events(sent) if b'"name"' not in e.raw]
    assert all(raw in received for raw in untouched)  # only the events that name the tool are re-encoded


def test_names_served_as_responses_stay_bounded(monkeypatch):
    monkeypatch.setattr(litellm_adapter, "MAX_REGISTERED_NAMES", 3)
    names = [f"chatgpt/gpt-5.88-bound-probe-{i}" for i in range(5)]
    for name in names:
        serve_as_responses(name)
    assert [n in litellm.model_cost for n in names] == [False, False, True, True, True]
    assert litellm.model_cost[names[-1]]["mode"] == "responses"
