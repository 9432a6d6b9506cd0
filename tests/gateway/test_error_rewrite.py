"""gateway.error_rewrite: LiteLLM's wrapped errors become the upstream's words, in the caller's dialect."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway import request_context
from custom_providers.registry import registry
from gateway.error_rewrite import ErrorRewrite, clean_message
from custom_providers.provider import Failure
from gateway.request_context import RequestFacts

ANTHROPIC_429 = json.dumps({"type": "error", "error": {
    "type": "rate_limit_error", "message": "This request would exceed your account's rate limit."}})
LITELLM_TAIL = ("Received Model Group=claude-sonnet-4-5\nAvailable Model Group Fallbacks=None "
                "LiteLLM Retried: 3 times, LiteLLM Max Retries: 3")


# ---- clean_message ---------------------------------------------------------------------------------


def test_the_embedded_upstream_json_message_is_extracted() -> None:
    text = f"litellm.RateLimitError: AnthropicException - {ANTHROPIC_429}. {LITELLM_TAIL}"
    assert clean_message(text) == "This request would exceed your account's rate limit."


def test_codex_error_json_inside_litellm_text() -> None:
    body = json.dumps({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                                 "resets_in_seconds": 100}})
    assert clean_message(f"litellm.RateLimitError: RateLimitError: ChatgptException - {body}") == (
        "The usage limit has been reached")


def test_litellm_prefix_and_tails_are_stripped_from_plain_text() -> None:
    text = ("litellm.BadRequestError: AnthropicException - prompt is too long: 250000 tokens > 200000 maximum. "
            + LITELLM_TAIL)
    assert clean_message(text) == "prompt is too long: 250000 tokens > 200000 maximum"
    # transport failures read as plain words, not as the HTTP client's exception text
    assert clean_message("litellm.APIConnectionError: ChatgptException - Connection reset LiteLLM Retried: 3 times") == (
        "The upstream connection closed before the response was complete; retry the request.")
    assert clean_message("litellm.RateLimitError: AnthropicException - slow down") == "slow down"


def test_detail_bodies_and_empty_messages() -> None:
    assert clean_message('OpenAIException - {"detail": "Unsupported model"}') == "Unsupported model"
    assert clean_message("") == "Upstream error"
    assert clean_message("litellm.InternalServerError: ") == "Upstream error"


def test_a_plain_message_keeps_its_words() -> None:
    assert clean_message("Your credit balance is too low.") == "Your credit balance is too low"
    assert clean_message("uses {braces} but no json") == "uses {braces} but no json"


# ---- ErrorRewrite.rewrite against a stand-in runtime ----------------------------------------------


class StubRuntime:
    """The five things the rewriter asks of the live runtime."""

    def __init__(self, *, accounts: int = 1, reset: float | None = None) -> None:
        self.accounts = accounts
        self.reset = reset
        self.providers = registry.configure()
        self.pool_names = {"claude-sonnet-4-5": "claude", "gpt-5.1-codex": "codex"}

    def provider_for_model(self, model: str) -> str | None:
        return self.pool_names.get(model)

    def usable_accounts(self, provider: str) -> list[object]:
        return [object()] * self.accounts

    def earliest_reset(self, provider: str) -> float | None:
        return self.reset


def rewrite(rt: StubRuntime, dialect: str, status: int, body: Any, model: str, **facts: Any) -> tuple[int, dict, dict]:
    rw = ErrorRewrite(app=None, runtime=rt)  # type: ignore[arg-type]
    raw = json.dumps(body).encode()
    return rw.rewrite(dialect, status, body, raw, RequestFacts(model=model, **facts))  # type: ignore[arg-type]


def litellm_error(message: str, status: int) -> dict:
    return {"error": {"message": message, "type": "None", "param": "None", "code": str(status)}}


def test_all_accounts_blocked_gives_429_with_retry_after_for_claude_code() -> None:
    reset = time.time() + 600
    status, body, headers = rewrite(
        StubRuntime(), "anthropic", 429,
        litellm_error(f"litellm.RateLimitError: AnthropicException - {ANTHROPIC_429}", 429),
        "claude-sonnet-4-5", blocked_until=reset)
    assert status == 429
    assert 598 <= int(headers["retry-after"]) <= 601
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "claude-sonnet-4-5" in body["error"]["message"]
    assert time.strftime("%Y-%m-%dT%H:%M", time.gmtime(reset)) in body["error"]["message"]


def test_codex_callers_get_usage_limit_reached_with_the_reset() -> None:
    reset = time.time() + 3600
    status, body, headers = rewrite(StubRuntime(reset=reset), "openai", 429,
                                    litellm_error("litellm.RateLimitError: limit", 429), "gpt-5.1-codex",
                                    failure=Failure("quota"))
    assert status == 429 and int(headers["retry-after"]) >= 3599
    err = body["error"]
    assert err["type"] == err["code"] == "usage_limit_reached"
    assert err["resets_at"] == int(reset) and 3599 <= err["resets_in_seconds"] <= 3601


def test_a_429_without_a_known_reset_keeps_the_upstream_message() -> None:
    status, body, headers = rewrite(
        StubRuntime(), "anthropic", 429,
        litellm_error(f"litellm.RateLimitError: AnthropicException - {ANTHROPIC_429}. {LITELLM_TAIL}", 429),
        "claude-sonnet-4-5")
    assert status == 429 and "retry-after" not in headers
    assert body["error"]["message"] == "This request would exceed your account's rate limit."


def test_the_hooks_classification_decides_the_status_not_litellms_answer() -> None:
    """LiteLLM's status and class are only the fallback: what the provider classified is rendered."""
    reset = time.time() + 900
    status, body, headers = rewrite(StubRuntime(), "openai", 500,
                                    litellm_error("litellm.InternalServerError: usage limit", 500), "gpt-5.1-codex",
                                    failure=Failure("quota", reset), upstream_status=429)
    assert status == 429 and 898 <= int(headers["retry-after"]) <= 901
    assert body["error"]["code"] == "usage_limit_reached"
    status, body, _ = rewrite(StubRuntime(), "openai", 400,
                              litellm_error("litellm.BadRequestError: token expired", 400), "gpt-5.1-codex",
                              failure=Failure("auth"), upstream_status=401)
    assert status == 401 and body["error"]["type"] == "authentication_error" and body["error"]["code"] is None
    status, body, _ = rewrite(StubRuntime(), "anthropic", 400,
                              litellm_error("litellm.BadRequestError: AnthropicException - too large", 400),
                              "claude-sonnet-4-5", failure=Failure("other"), upstream_status=413)
    assert status == 413 and body["error"]["type"] == "request_too_large"


def test_an_unclassified_error_keeps_litellms_status() -> None:
    """No provider saw it (an API-key deployment, a mistake LiteLLM refused before any call)."""
    status, body, headers = rewrite(StubRuntime(reset=time.time() + 60), "openai", 429,
                                    litellm_error("litellm.RateLimitError: slow down", 429), "gpt-4o-mini")
    assert status == 429 and "retry-after" not in headers and body["error"]["message"] == "slow down"
    status, body, _ = rewrite(StubRuntime(), "openai", 422,
                              litellm_error("litellm.UnprocessableEntityError: bad field", 422), "gpt-4o-mini")
    assert status == 422 and body["error"]["message"] == "bad field"


def test_no_logged_in_account_says_how_to_log_in() -> None:
    status, body, _ = rewrite(StubRuntime(accounts=0), "openai", 500,
                              litellm_error("No deployments available", 500), "gpt-5.1-codex")
    assert status == 503
    assert "python -m gateway login codex" in body["error"]["message"]
    status, body, _ = rewrite(StubRuntime(), "anthropic", 401, litellm_error("x", 401), "claude-sonnet-4-5",
                              no_account=True)
    assert status == 503 and body["type"] == "error" and "login claude" in body["error"]["message"]


def test_unknown_model_is_a_404_listing_what_is_served() -> None:
    status, body, _ = rewrite(StubRuntime(), "openai", 400,
                              litellm_error("litellm.BadRequestError: Invalid model name passed in model=gpt-9", 400),
                              "gpt-9")
    assert status == 404 and body["error"]["code"] == "model_not_found"
    assert "gpt-9" in body["error"]["message"] and "claude-sonnet-4-5" in body["error"]["message"]


def test_anthropic_errors_keep_the_anthropic_shape() -> None:
    upstream = json.dumps({"type": "error", "error": {"type": "invalid_request_error",
                                                      "message": "prompt is too long"}})
    status, body, _ = rewrite(StubRuntime(), "anthropic", 400,
                              litellm_error(f"litellm.BadRequestError: AnthropicException - {upstream}", 400),
                              "claude-sonnet-4-5")
    assert status == 400
    assert body == {"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long"}}


def test_openai_errors_lose_the_litellm_wrapping() -> None:
    status, body, _ = rewrite(StubRuntime(), "openai", 400,
                              litellm_error("litellm.BadRequestError: ChatgptException - bad tool schema", 400),
                              "gpt-5.1-codex")
    assert status == 400
    assert body["error"]["message"] == "bad tool schema" and body["error"]["code"] is None


# ---- the ASGI layer --------------------------------------------------------------------------------


def app_answering(response: Response, **facts: Any):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        current = request_context.current()  # what the hook would note during the request
        for key, value in facts.items():
            setattr(current, key, value)
        await response(scope, receive, send)

    return app


async def call(app: Any, path: str) -> httpx.Response:
    wrapped = ErrorRewrite(app, StubRuntime())  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://gw") as http:
        return await http.post(path, json={})


async def test_the_client_sees_retry_after_on_a_final_429() -> None:
    inner = app_answering(JSONResponse(litellm_error("litellm.RateLimitError: x", 429), status_code=429),
                          model="claude-sonnet-4-5", blocked_until=time.time() + 120)
    r = await call(inner, "/v1/messages")
    assert r.status_code == 429 and 118 <= int(r.headers["retry-after"]) <= 121
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert int(r.headers["content-length"]) == len(r.content)


@pytest.mark.parametrize("response, expected", [
    (JSONResponse({"id": "msg_1", "content": []}), b'{"id":"msg_1","content":[]}'),
    (StreamingResponse(iter([b'data: {"a": 1}\n\n', b"data: [DONE]\n\n"]), media_type="text/event-stream"),
     b'data: {"a": 1}\n\ndata: [DONE]\n\n'),
])
async def test_successes_and_streams_pass_byte_for_byte(response: Response, expected: bytes) -> None:
    r = await call(app_answering(response), "/v1/chat/completions")
    assert r.status_code == 200 and r.content == expected
