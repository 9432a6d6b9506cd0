"""Responses to the Codex pool: what the backend streams reaches the client byte for byte (its `event:`
lines, comments, event types and fields the gateway never heard of), on /v1/responses, Codex CLI's
/backend-api/codex/responses and Amp's alias, in both entry points; a non-streaming client keeps the
unknown fields; a stream cut after its first output ends in an error; an account refused before the stream starts
fails over to the next one."""

from __future__ import annotations

import httpx
import pytest

from custom_providers.sse import iter_events

BODY = {"model": "gpt-5.1-codex", "input": "hi", "stream": True}


def _url(request, entry: str) -> str:
    value = request.getfixturevalue(entry)
    return value.url if entry == "gateway" else value


def _stream(url: str, path: str, body: dict = BODY) -> tuple[int, bytes]:
    with httpx.stream("POST", url + path, json=body, timeout=30) as r:
        return r.status_code, b"".join(r.iter_bytes())


# `litellm --config` has no Codex CLI path (/backend-api/codex/responses is the front layer's).
@pytest.mark.parametrize("entry,path", [("gateway", "/v1/responses"), ("gateway", "/backend-api/codex/responses"),
                                        ("plain", "/v1/responses")])
def test_the_stream_arrives_as_the_backend_sent_it(request, entry, path, accounts, codex_stack):
    url = _url(request, entry)
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"extras": True})
    status, received = _stream(url, path)
    assert status == 200, received[:300]
    sent = bytes(codex_stack.api.streamed[acct.email])
    names = [e.type for e in iter_events(received) if not e.is_blank]
    assert names[:2] == ["response.created", "response.brand_new_event"] and names[-1] == "response.completed"
    assert b"brand_new_field" in received and b": keep-alive" in received
    assert received == sent


def test_amp_responses_alias_is_relayed_too(gateway, accounts, codex_stack):
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"extras": True})
    status, received = _stream(gateway.url, "/api/provider/openai/v1/responses")
    assert status == 200, received[:300]
    assert received == bytes(codex_stack.api.streamed[acct.email])


@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_a_non_streaming_client_keeps_unknown_fields(request, entry, accounts, codex_stack):
    url = _url(request, entry)
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"extras": True})
    r = httpx.post(url + "/v1/responses", json=dict(BODY, stream=False), timeout=30)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["brand_new_field"] == {"nested": [1, "two", None]}
    assert answer["status"] == "completed" and answer["output"][-1]["content"][0]["text"].startswith("Hello")


@pytest.mark.parametrize("mode", ["end_after", "cut_after"])
@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_a_stream_cut_after_its_first_output_ends_in_an_error(request, entry, mode, accounts, codex_stack):
    url = _url(request, entry)
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"mode": mode, "events": 6, "pause": 0.3})
    status, received = _stream(url, "/v1/responses")
    assert status == 200, received[:300]
    sent = bytes(codex_stack.api.streamed[acct.email])
    assert received.startswith(sent)  # everything the backend sent, as sent, then the error
    closing = [e for e in iter_events(received[len(sent):]) if not e.is_blank]
    assert [e.type for e in closing] == ["response.failed"], received[len(sent):]
    assert closing[0].json()["response"]["status"] == "failed"


@pytest.mark.parametrize("entry", ["gateway", "plain"])
def test_an_account_refused_before_the_stream_fails_over(request, entry, accounts, codex_stack):
    url = _url(request, entry)
    first, second = accounts.add("codex"), accounts.add("codex")
    codex_stack.api.recorder.script({"status": 429, "resets_in_seconds": 600})  # whichever account is asked first
    codex_stack.api.set_mode(None, {"extras": True})
    status, received = _stream(url, "/v1/responses")
    assert status == 200, received[:300]
    hits = {a.email: codex_stack.api.hits(a.email) for a in (first, second)}
    assert sorted(hits.values()) == [1, 1]
    served_by = second if codex_stack.api.recorder.requests[-1].account == second.email else first
    assert received == bytes(codex_stack.api.streamed[served_by.email])
