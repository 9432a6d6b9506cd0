"""Codex CLI's Responses WebSocket through the real gateway (python -m gateway.amp) to the backend fake's socket.

Each `response.create` is routed by LiteLLM's Router to an account; the turn runs on that account's
upstream WebSocket, and the upstream's frames come back unchanged (gateway/responses_websocket.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from gateway.demo.fakes.codex_websocket import UNKNOWN_EVENT

BETA = "responses_websockets=2026-02-06"
MODEL = "gpt-5.1-codex"
TOOL = {"type": "function", "name": "exec_command", "description": "Run a command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}


def ws_url(base: str, path: str = "/v1/responses") -> str:
    return base.replace("http://", "ws://") + path


def open_socket(base: str, path: str = "/v1/responses", key: str = "dummy-not-used") -> ClientConnection:
    headers = {"Authorization": f"Bearer {key}", "OpenAI-Beta": BETA, "originator": "codex_exec",
               "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)",
               "session-id": "ws-session-1", "x-codex-window-id": "ws-session-1:0",
               "x-openai-internal-codex-responses-lite": "true"}
    return connect(ws_url(base, path), additional_headers=headers, open_timeout=30)


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def create(**fields: Any) -> str:
    body = {"type": "response.create", "model": MODEL, "stream": True, "store": False,
            "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
                      user("hi")], "prompt_cache_key": "ws-session-1"}
    body.update(fields)
    return json.dumps(body)


def turn(ws: ClientConnection) -> list[str]:
    """The raw frames of one turn, up to its terminal event or error frame."""
    out = []
    while True:
        raw = ws.recv(timeout=60)
        out.append(raw)
        if json.loads(raw)["type"] in ("response.completed", "response.failed", "error"):
            return out


def kinds(frames: list[str]) -> list[str]:
    return [json.loads(f)["type"] for f in frames]


def sent_frames(codex_stack, email: str) -> list[dict[str, Any]]:
    return [r.json() for r in codex_stack.api.websocket.recorder.requests if r.method == "WS" and r.account == email]


def handshakes(codex_stack, email: str):
    return [r for r in codex_stack.api.websocket.handshakes() if r.account == email]


def test_a_tool_turn_runs_over_the_websocket_with_the_account_token(gateway, accounts, codex_stack):
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"call": "exec_command", "arguments": {"cmd": "echo hi"}})
    with open_socket(gateway.url, "/backend-api/codex/responses") as ws:
        ws.send(create(tools=[TOOL], temperature=0.3))
        first = turn(ws)
        done = json.loads(first[-1])["response"]
        [call] = [item for item in done["output"] if item["type"] == "function_call"]
        assert call["name"] == "exec_command"
        codex_stack.api.clear_mode(acct.email)
        ws.send(create(tools=[TOOL], previous_response_id=done["id"],
                       input=[{"type": "function_call_output", "call_id": call["call_id"], "output": "hi\n"}]))
        second = turn(ws)
    assert kinds(first)[0] == "codex.rate_limits" and kinds(second)[-1] == "response.completed"
    assert "Hello from the fake Codex backend." in json.dumps(json.loads(second[-1])["response"]["output"])
    [hello] = handshakes(codex_stack, acct.email)  # both turns on one upstream socket
    assert hello.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert hello.headers["chatgpt-account-id"] == acct.grant.account_id
    assert hello.headers["openai-beta"] == BETA and hello.headers["originator"] == "codex_exec"
    assert hello.headers["session-id"] == "ws-session-1" and hello.headers["x-codex-window-id"] == "ws-session-1:0"
    assert hello.headers["x-openai-internal-codex-responses-lite"] == "true"
    up1, up2 = sent_frames(codex_stack, acct.email)
    assert up1["type"] == "response.create" and up1["model"] == MODEL and up1["store"] is False
    assert up1["instructions"].strip() and "temperature" not in up1  # the HTTP relay's edits
    assert up2["previous_response_id"] == done["id"] and len(up2["input"]) == 1  # only the new item


def test_two_turns_on_one_connection_relay_frames_unchanged(gateway, accounts, codex_stack):
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"unknown_event": True, "text": "first answer"})
    with open_socket(gateway.url) as ws:
        ws.send(create())
        one = turn(ws)
        codex_stack.api.set_mode(acct.email, {"text": "second answer"})
        ws.send(create(previous_response_id=json.loads(one[-1])["response"]["id"], input=[user("again")]))
        two = turn(ws)
    unknown = [f for f in one if json.loads(f)["type"] == UNKNOWN_EVENT]
    assert unknown == [json.dumps({"type": UNKNOWN_EVENT, "note": "a type no client knows", "n": 1})]  # byte-equal
    assert kinds(one)[:3] == ["codex.rate_limits", "response.created", UNKNOWN_EVENT]
    assert "first answer" in one[-1] and "second answer" in two[-1]
    assert len(handshakes(codex_stack, acct.email)) == 1 and len(sent_frames(codex_stack, acct.email)) == 2


@pytest.mark.parametrize("failure", [{"status": 429, "resets_in_seconds": 900}, {"status": 503},
                                     {"mode": "refuse_upgrade", "status": 502}])
def test_a_failure_before_the_first_event_fails_over_to_another_account(gateway, accounts, codex_stack, failure):
    a, b = accounts.add("codex"), accounts.add("codex")
    codex_stack.api.recorder.script(failure)  # whichever account the Router picks first fails, once
    with open_socket(gateway.url) as ws:
        ws.send(create())
        frames = turn(ws)
    assert kinds(frames)[-1] == "response.completed"
    tried = [acct for acct in (a, b) if handshakes(codex_stack, acct.email)]
    assert len(tried) == 2  # one failed, the other answered
    codex_stack.api.recorder.clear()


def test_a_429_blocks_the_account_until_its_reset(gateway, accounts, codex_stack):
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"status": 429, "resets_in_seconds": 600})
    with open_socket(gateway.url) as ws:
        ws.send(create())
        [error] = turn(ws)
        codex_stack.api.clear_mode(acct.email)
        ws.send(create())
        [again] = turn(ws)  # blocked: not even tried
    first, second = json.loads(error), json.loads(again)
    assert first["type"] == "error" and first["status"] == 429
    assert first["error"]["type"] == "usage_limit_reached" and 500 < int(first["headers"]["retry-after"]) <= 600
    assert second["status"] == 429 and len(sent_frames(codex_stack, acct.email)) == 1


def test_a_bad_client_key_is_refused_at_the_upgrade(managed_gateway, managed_accounts):
    managed_accounts.add("codex")
    with pytest.raises(InvalidStatus) as refused:
        open_socket(managed_gateway.url, key="wrong-key")
    assert refused.value.response.status_code == 401
    with open_socket(managed_gateway.url, key=managed_gateway.client_key) as ws:
        ws.send(create())
        assert kinds(turn(ws))[-1] == "response.completed"


@pytest.mark.parametrize("path", ["/v1/responses", "/responses"])
def test_litellm_config_answers_the_upgrade_426_so_codex_uses_http(plain, accounts, path):
    accounts.add("codex")
    with pytest.raises(InvalidStatus) as refused:
        open_socket(plain, path)
    assert refused.value.response.status_code == 426  # Codex CLI's signal to fall back to HTTP at once
    assert b"python -m gateway.amp" in bytes(refused.value.response.body or b"")


def test_a_token_expired_mid_connection_is_refreshed_and_the_turn_retried(gateway, accounts, codex_stack):
    acct = accounts.add("codex")
    with open_socket(gateway.url) as ws:
        ws.send(create())
        assert kinds(turn(ws))[-1] == "response.completed"
        codex_stack.book.expire(acct.grant.access_token)  # the backend now refuses the socket's token
        ws.send(create())
        assert kinds(turn(ws))[-1] == "response.completed"
    first, second = handshakes(codex_stack, acct.email)
    assert first.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert second.headers["authorization"] != first.headers["authorization"]  # a new socket, refreshed token


def test_usage_and_the_usage_windows_are_recorded_from_the_frames(gateway, accounts, codex_stack):
    import time

    import httpx

    acct = accounts.add("codex")
    codex_stack.api.meter.set(acct.email, five_hour=63, weekly=8, cost=2)

    def model_tally() -> dict[str, Any]:
        models = httpx.get(gateway.url + "/ui/data.json", timeout=10).json()["models"]
        return next((m for m in models if m["model"] == MODEL), {"requests": 0, "output_tokens": 0})

    before = model_tally()
    with open_socket(gateway.url) as ws:
        ws.send(create())
        done = json.loads(turn(ws)[-1])
    usage = done["response"]["usage"]
    deadline = time.monotonic() + 10
    while True:
        data = httpx.get(gateway.url + "/ui/data.json", timeout=10).json()
        limits = next(a for a in data["accounts"] if a["email"] == acct.email).get("limits")
        after = model_tally()
        if limits and after["requests"] > before["requests"]:
            break
        assert time.monotonic() < deadline, (limits, before, after)
        time.sleep(0.05)
    assert limits["five_hour"]["used_percent"] == 65.0 and limits["weekly"]["used_percent"] == 8.2  # codex.rate_limits
    assert after["requests"] == before["requests"] + 1
    assert after["output_tokens"] - before["output_tokens"] == usage["output_tokens"]
