"""The Codex WebSocket relay's own rules (custom_providers/codex/websocket.py), without a socket."""

from __future__ import annotations

import json

import litellm
import pytest

from custom_providers.codex import websocket
from custom_providers.codex.settings import CodexSettings

SETTINGS = CodexSettings()


def test_the_url_is_the_api_base_with_a_websocket_scheme():
    assert websocket.websocket_url("https://chatgpt.com/backend-api/codex/") == "wss://chatgpt.com/backend-api/codex/responses"
    assert websocket.websocket_url("http://127.0.0.1:9/backend-api/codex") == "ws://127.0.0.1:9/backend-api/codex/responses"


def test_a_frame_gets_the_http_edits_but_keeps_previous_response_id_and_generate():
    frame = {"type": "response.create", "model": "gpt-5-codex-high", "input": [], "store": True,
             "temperature": 0.2, "max_output_tokens": 10, "previous_response_id": "resp_1", "generate": False,
             "client_metadata": {"a": "b"}, "brand_new_field": 1}
    out, names = websocket.shape_frame(frame, model="gpt-5-codex", reasoning={"effort": "high"}, settings=SETTINGS)
    assert out["type"] == "response.create" and list(out)[0] == "type"
    assert out["model"] == "gpt-5-codex" and out["reasoning"] == {"effort": "high"}
    assert out["store"] is False and out["stream"] is True and out["instructions"] == SETTINGS.default_instructions
    assert "temperature" not in out and "max_output_tokens" not in out
    assert out["previous_response_id"] == "resp_1" and out["generate"] is False
    assert out["client_metadata"] == {"a": "b"} and out["brand_new_field"] == 1 and names == {}


def test_handshake_headers_carry_the_account_and_the_beta_and_one_identity():
    client = {"originator": "codex_exec", "user-agent": "codex_exec/0.169.0", "session-id": "s1",
              "x-codex-window-id": "w", "openai-beta": "something-else"}
    out = websocket.handshake_headers(client, {"x-openai-internal-codex-responses-lite": "true"},
                                      {"ChatGPT-Account-Id": "acct-1"}, token="tok", settings=SETTINGS)
    assert out["authorization"] == "Bearer tok" and out["chatgpt-account-id"] == "acct-1"
    assert out["openai-beta"] == websocket.BETA and out["originator"] == "codex_exec"
    assert out["session-id"] == "s1" and out["x-openai-internal-codex-responses-lite"] == "true"
    sdk = websocket.handshake_headers({"user-agent": "OpenAI/Python 2.0"}, {}, {}, token="t", settings=SETTINGS)
    assert sdk["user-agent"] == SETTINGS.user_agent and sdk["originator"] == SETTINGS.originator


def test_frames_are_relayed_as_sent_unless_a_tool_name_was_shortened():
    raw = '{"type":"response.output_item.done",  "item":{"type":"function_call","name":"short"}}'
    assert websocket.relayed(raw, {}) is raw
    restored = json.loads(websocket.relayed(raw, {"short": "a_very_long_original_name"}))
    assert restored["item"]["name"] == "a_very_long_original_name"


def test_the_rate_limits_event_reads_as_the_http_usage_headers():
    event = {"type": "codex.rate_limits", "rate_limits": {
        "primary": {"used_percent": 12.5, "window_minutes": 300, "reset_at": 1700000000},
        "secondary": {"used_percent": 40, "window_minutes": 10080, "reset_at": 1700500000}}}
    assert websocket.rate_limit_headers(event) == {
        "x-codex-primary-used-percent": "12.5", "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": "1700000000", "x-codex-secondary-used-percent": "40",
        "x-codex-secondary-window-minutes": "10080", "x-codex-secondary-reset-at": "1700500000"}
    assert websocket.rate_limit_headers({"type": "codex.rate_limits"}) == {}


@pytest.mark.parametrize("status, kind", [(401, litellm.AuthenticationError), (429, litellm.RateLimitError),
                                          (503, litellm.ServiceUnavailableError), (400, litellm.BadRequestError)])
def test_an_upstream_status_becomes_the_litellm_exception_the_router_and_hook_read(status, kind):
    body = json.dumps({"type": "error", "status": status, "error": {"message": "nope", "resets_in_seconds": 5}})
    exc = websocket.upstream_error(status, body, {"x-codex-primary-used-percent": "100"})
    assert isinstance(exc, kind) and "nope" in exc.message and exc.status_code == status
    if status not in (401, 429):  # what the failure hook classifies from the body and headers
        return
    assert exc.response.status_code == status and exc.response.headers["x-codex-primary-used-percent"] == "100"
    assert json.loads(exc.response.text)["error"]["resets_in_seconds"] == 5
