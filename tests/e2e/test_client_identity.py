"""Client identity at the Codex upstream: Codex CLI's own headers pass, anyone else is sent as one
consistent Codex CLI, never a mix (the Claude side is in tests/e2e/test_relay_messages.py)."""

from __future__ import annotations

import httpx
import pytest


def _url(request, entry: str) -> str:
    value = request.getfixturevalue(entry)
    return value.url if entry == "gateway" else value


def _last(codex_stack, email: str):
    return [x for x in codex_stack.api.recorder.requests if x.account == email][-1]


@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_codex_cli_keeps_its_identity_and_others_get_one(request, entry, accounts, codex_stack):
    url = _url(request, entry)
    acct = accounts.add("codex")
    body = {"model": "gpt-5.1-codex", "input": "hi", "stream": True}
    codex = {"originator": "codex_exec", "user-agent": "codex_exec/0.201.0 (Debian 12; x86_64)", "version": "0.201.0",
             "session-id": "sess-id-1"}
    with httpx.stream("POST", url + "/v1/responses", json=body, headers=codex, timeout=30) as r:
        assert r.status_code == 200 and b"response.completed" in b"".join(r.iter_bytes())
    seen = _last(codex_stack, acct.email).headers
    assert (seen["originator"], seen["user-agent"], seen["version"]) == (
        "codex_exec", "codex_exec/0.201.0 (Debian 12; x86_64)", "0.201.0")
    assert seen["session-id"] == "sess-id-1"

    with httpx.stream("POST", url + "/v1/responses", json=body, headers={"user-agent": "factory-cli/0.215.0"},
                      timeout=30) as r:
        assert r.status_code == 200 and b"response.completed" in b"".join(r.iter_bytes())
    seen = _last(codex_stack, acct.email).headers
    assert seen["originator"] == "codex_cli_rs" and seen["user-agent"].startswith("codex_cli_rs/")
    assert "version" not in seen


@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_a_responses_request_arrives_with_only_the_codex_edits(request, entry, accounts, codex_stack):
    url = _url(request, entry)
    acct = accounts.add("codex")
    body = {"model": "gpt-5.1-codex-high", "input": [{"type": "message", "role": "user", "content": "hi",
                                                       "future_item_field": 1}],
            "brand_new_top_level": {"nested": [1, None]}, "text": {"verbosity": "low"},
            "client_metadata": {"x": "y"}, "prompt_cache_key": "pck-1", "reasoning": {"summary": "auto"},
            "temperature": 0.2, "stream": True}
    with httpx.stream("POST", url + "/v1/responses", json=body, timeout=30) as r:
        assert r.status_code == 200 and b"response.completed" in b"".join(r.iter_bytes())
    seen = _last(codex_stack, acct.email).json()
    edited = {"model", "stream", "store", "include", "instructions", "reasoning", "temperature"}
    assert {k: v for k, v in seen.items() if k not in edited} == {k: v for k, v in body.items() if k not in edited}
    assert seen["model"] == "gpt-5.1-codex" and seen["store"] is False and "temperature" not in seen
    assert seen["reasoning"] == {"summary": "auto", "effort": "high"}
