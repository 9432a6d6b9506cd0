"""`litellm.aresponses` through the adapted `chatgpt/` provider against the strict fake Codex backend.

Each call passes `api_key` and `extra_headers` exactly as the gateway's deployment hook sets them.
"""

from __future__ import annotations

import base64
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "true")

import litellm  # noqa: E402
import pytest  # noqa: E402

from custom_providers.codex.litellm_adapter import register  # noqa: E402
from custom_providers.codex.settings import CodexSettings  # noqa: E402
from tests.fakes.codex_backend import DEFAULT_TEXT  # noqa: E402

SETTINGS = CodexSettings()
LONG = "mcp__" + "filesystem_server_" * 3 + "__read_text_file_with_a_rather_long_name"
TOOLS = [{"type": "function", "name": LONG, "description": "Read a file",
          "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}]
register()
litellm.suppress_debug_info = True


def call(base, grant, **kw):
    args = dict(model="chatgpt/gpt-5.1-codex", api_base=base, api_key=grant.access_token,
                extra_headers={"ChatGPT-Account-Id": grant.account_id}, input="hi")
    args.update(kw)
    return litellm.aresponses(**args)


def user(text):
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_non_streaming_client_gets_the_aggregated_response_and_its_fields_survive(codex_base, codex_backend,
                                                                                          alice):
    response = await call(codex_base, alice, instructions="You are Droid.", prompt_cache_key="pck-1",
                          text={"verbosity": "low"}, parallel_tool_calls=False, client_metadata={"run": "7"},
                          reasoning={"effort": "high", "summary": "auto"}, include=["message.output_text.logprobs"])
    assert response.output[-1].content[0].text == DEFAULT_TEXT
    assert response.usage.input_tokens > 0 and response.usage.output_tokens_details.reasoning_tokens == 16
    (sent,) = codex_backend.recorder.for_path("/responses")
    body = sent.json()
    assert body["instructions"] == "You are Droid."
    assert body["prompt_cache_key"] == "pck-1" and body["text"] == {"verbosity": "low"}
    assert body["parallel_tool_calls"] is False and body["client_metadata"] == {"run": "7"}
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["stream"] is True and body["store"] is False
    assert body["include"] == ["message.output_text.logprobs", "reasoning.encrypted_content"]
    assert sent.headers["authorization"] == f"Bearer {alice.access_token}"
    assert sent.headers["chatgpt-account-id"] == alice.account_id
    assert sent.account == "alice@example.com"


async def test_missing_instructions_get_the_short_default_not_litellms_prompt(codex_base, codex_backend, alice):
    response = await call(codex_base, alice, input=[{"type": "message", "role": "developer",
                                                      "content": [{"type": "input_text", "text": "Codex CLI prompt"}]},
                                                     user("hi")])
    assert response.status == "completed"
    assert codex_backend.bodies()[0]["instructions"] == SETTINGS.default_instructions


async def test_parameters_the_backend_refuses_are_dropped(codex_base, codex_backend, alice):
    response = await call(codex_base, alice, temperature=0.2, top_p=0.5, max_output_tokens=300, user="u1",
                          metadata={"a": "b"}, truncation="auto", safety_identifier="sid",
                          prompt_cache_retention="24h", previous_response_id="resp_old", service_tier="default")
    assert response.status == "completed"  # the fake answers 400 to any of them
    body = codex_backend.bodies()[0]
    assert not {"temperature", "top_p", "max_output_tokens", "user", "metadata", "truncation", "safety_identifier",
                "prompt_cache_retention", "previous_response_id", "service_tier"} & set(body)


async def test_streaming_events_arrive_in_order_and_complete(codex_base, alice):
    stream = await call(codex_base, alice, stream=True)
    types = [str(getattr(event.type, "value", event.type)) async for event in stream]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert types.index("response.reasoning_summary_text.delta") < types.index("response.output_text.delta")


async def test_tool_and_reasoning_round_trip(codex_base, codex_backend, alice):
    first = await call(codex_base, alice, input=[user("read the readme")], tools=TOOLS)
    reasoning, function_call = first.output
    assert function_call.name == LONG  # restored, although the backend saw a short name
    assert len(codex_backend.bodies()[0]["tools"][0]["name"]) <= 64
    replay = [user("read the readme"),
              {"type": "reasoning", "id": reasoning.id, "summary": [s.model_dump() for s in reasoning.summary],
               "encrypted_content": reasoning.encrypted_content},
              {"type": "function_call", "call_id": function_call.call_id, "name": function_call.name,
               "arguments": function_call.arguments},
              {"type": "function_call_output", "call_id": function_call.call_id, "output": "# subgate"}]
    second = await call(codex_base, alice, input=replay, tools=TOOLS)
    assert second.output[-1].content[0].text == DEFAULT_TEXT  # the fake verified the encrypted reasoning
    sent = codex_backend.bodies()[1]
    assert sent["input"][1]["encrypted_content"] == reasoning.encrypted_content
    assert sent["input"][2]["name"] == sent["tools"][0]["name"] != LONG


async def test_streamed_tool_calls_carry_the_clients_name(codex_base, alice):
    stream = await call(codex_base, alice, tools=TOOLS, stream=True)
    names = [event.item.name async for event in stream
             if str(getattr(event.type, "value", event.type)).startswith("response.output_item")
             and event.item.type == "function_call"]
    assert names == [LONG, LONG]


async def test_reasoning_from_another_account_is_refused_by_the_backend(codex_base, codex_backend, alice, bob):
    foreign = codex_backend.seal_reasoning(bob.account_id)
    replay = [user("hi"), {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": foreign}]
    with pytest.raises(litellm.BadRequestError, match="invalid_encrypted_content"):
        await call(codex_base, alice, input=replay)


async def test_client_identity_headers_are_forwarded(codex_base, codex_backend, alice):
    client = {"originator": "codex_exec", "user-agent": "codex_exec/0.169.0 (Mac OS)", "session-id": "sess-9",
              "thread-id": "th-9", "x-client-request-id": "rq-9", "x-codex-turn-metadata": "{}",
              "authorization": "Bearer gateway-client-key"}
    await call(codex_base, alice, litellm_metadata={"headers": client})
    headers = codex_backend.recorder.requests[0].headers
    for name in ("originator", "user-agent", "session-id", "thread-id", "x-client-request-id",
                 "x-codex-turn-metadata"):
        assert headers[name] == client[name]
    assert headers["authorization"] == f"Bearer {alice.access_token}"


async def test_codex_cli_like_headers_when_the_client_sends_none(codex_base, codex_backend, alice):
    await call(codex_base, alice, prompt_cache_key="cache-42")
    headers = codex_backend.recorder.requests[0].headers
    assert headers["originator"] == SETTINGS.originator and headers["user-agent"] == SETTINGS.user_agent
    assert headers["session_id"] == "cache-42"


async def test_expired_token_is_an_authentication_error(codex_base, codex_book):
    grant = codex_book.issue("carol@example.com", "acct-carol")
    codex_book.expire(grant.access_token)
    with pytest.raises(litellm.AuthenticationError, match="token_expired"):
        await call(codex_base, grant)


async def test_wrong_account_header_is_an_authentication_error(codex_base, alice, bob):
    with pytest.raises(litellm.AuthenticationError, match="account_mismatch"):
        await call(codex_base, alice, extra_headers={"ChatGPT-Account-Id": bob.account_id})


@pytest.mark.parametrize("reset", [{"resets_in_seconds": 120}, {"resets_at": 1_900_000_000}, {}])
async def test_usage_limit_is_a_rate_limit_error_with_the_upstream_body(codex_base, codex_backend, alice, reset):
    codex_backend.recorder.script({"status": 429, "headers": {"x-codex-primary-used-percent": "100"}, **reset})
    with pytest.raises(litellm.RateLimitError) as info:
        await call(codex_base, alice)
    error = info.value.response.json()["error"]
    assert error["type"] == "usage_limit_reached" and {k: error[k] for k in reset} == reset
    assert info.value.response.headers["x-codex-primary-used-percent"] == "100"


@pytest.mark.parametrize("reply", [{"mode": "cut_after", "events": 6}, {"mode": "end_after", "events": 6},
                                   {"mode": "cut_before"}, {"mode": "malformed_sse"}])
async def test_stream_without_completion_is_an_error_for_non_streaming_clients(codex_base, codex_backend, alice,
                                                                                reply):
    codex_backend.recorder.script(reply)
    with pytest.raises(litellm.Timeout, match="before response.completed") as info:
        await call(codex_base, alice)
    assert "TransferEncodingError" not in str(info.value)


async def test_cut_stream_raises_for_streaming_clients(codex_base, codex_backend, alice):
    codex_backend.recorder.script({"mode": "cut_after", "events": 8})
    stream = await call(codex_base, alice, stream=True)
    seen = []
    with pytest.raises(Exception):
        async for event in stream:
            seen.append(str(getattr(event.type, "value", event.type)))
    assert "response.completed" not in seen


async def test_in_stream_failure_is_an_error(codex_base, codex_backend, alice):
    codex_backend.recorder.script({"mode": "response_failed", "code": "server_error",
                                   "message": "An error occurred while processing your request."})
    with pytest.raises(litellm.BadGatewayError, match="An error occurred while processing") as info:
        await call(codex_base, alice)
    assert info.value.status_code == 502


async def test_missing_token_is_a_clean_error_and_no_login_starts(codex_base, codex_backend, tmp_path, monkeypatch):
    monkeypatch.setenv("CHATGPT_TOKEN_DIR", str(tmp_path / "tokens"))
    with pytest.raises(litellm.AuthenticationError, match="No ChatGPT access token"):
        await litellm.aresponses(model="chatgpt/gpt-5.1-codex", api_base=codex_base, input="hi")
    assert codex_backend.recorder.requests == [] and not (tmp_path / "tokens").exists()


async def test_deployment_api_base_wins_over_the_environment(codex_base, alice, monkeypatch):
    monkeypatch.setenv("CHATGPT_API_BASE", "http://127.0.0.1:9/backend-api/codex")
    assert (await call(codex_base, alice)).status == "completed"


async def test_response_id_reveals_no_account(codex_base, alice):
    response = await call(codex_base, alice)
    decoded = base64.b64decode(response.id.removeprefix("resp_") + "==").decode(errors="replace")
    for secret in (alice.email, alice.account_id, alice.access_token):
        assert secret not in response.id and secret not in decoded
