from enum import Enum

from custom_providers.codex.settings import CodexSettings
from custom_providers.codex.shaping import (
    DROPPED_FIELDS,
    forced_reasoning,
    prepare_call,
    restore_tool_names,
    shape_request,
    upstream_headers,
)

SETTINGS = CodexSettings()
DEFAULT = SETTINGS.default_instructions
LONG = "mcp__" + "s" * 40 + "__" + "read_the_whole_file_tree"
LONG2 = "x" * 80


def shaped(body):
    return shape_request(body, default_instructions=DEFAULT)


def test_required_fields_are_forced_and_client_fields_survive():
    client = {
        "model": "gpt-5.1-codex", "input": "hi", "instructions": "Droid prompt", "stream": False, "store": True,
        "include": ["message.output_text.logprobs"], "prompt_cache_key": "pck", "text": {"verbosity": "low"},
        "parallel_tool_calls": False, "reasoning": {"effort": "high", "summary": "auto"},
        "client_metadata": {"k": "v"}, "tool_choice": "auto",
    }
    body, names = shaped(client)
    assert body["stream"] is True and body["store"] is False
    assert body["include"] == ["message.output_text.logprobs", "reasoning.encrypted_content"]
    for key in ("instructions", "prompt_cache_key", "text", "parallel_tool_calls", "reasoning", "client_metadata",
                "tool_choice", "input"):
        assert body[key] == client[key]
    assert names == {}


def test_fields_the_backend_refuses_are_dropped():
    body, _ = shaped({"model": "gpt-5", "input": "hi", **{k: 1 for k in DROPPED_FIELDS}})
    assert not set(DROPPED_FIELDS) & set(body)


def test_include_is_not_duplicated():
    body, _ = shaped({"model": "gpt-5", "input": "hi", "include": ["reasoning.encrypted_content"]})
    assert body["include"] == ["reasoning.encrypted_content"]


def test_missing_or_blank_instructions_get_the_configured_default_not_a_long_prompt():
    for client in ({}, {"instructions": None}, {"instructions": "  "}):
        body, _ = shaped({"model": "gpt-5", "input": "hi", **client})
        assert body["instructions"] == DEFAULT


def test_service_tier_only_priority_is_kept():
    assert shaped({"model": "gpt-5", "input": "", "service_tier": "fast"})[0]["service_tier"] == "priority"
    assert "service_tier" not in shaped({"model": "gpt-5", "input": "", "service_tier": "default"})[0]


def test_chat_style_tools_are_flattened_and_nulls_removed():
    tools = [{"type": "function", "function": {"name": "read", "description": None, "parameters": {}}},
             {"type": "function", "name": "write", "strict": None, "parameters": {}}]
    body, _ = shaped({"model": "gpt-5", "input": "", "tools": tools})
    assert body["tools"] == [{"type": "function", "name": "read", "parameters": {}},
                             {"type": "function", "name": "write", "parameters": {}}]


def test_long_tool_names_are_shortened_everywhere_and_restorable():
    client = {
        "model": "gpt-5", "tools": [{"type": "function", "name": LONG, "parameters": {}},
                                    {"type": "function", "name": LONG2, "parameters": {}}],
        "tool_choice": {"type": "function", "name": LONG},
        "input": [{"type": "function_call", "call_id": "c1", "name": LONG2, "arguments": "{}"},
                  {"type": "function_call_output", "call_id": "c1", "output": "ok"}],
    }
    body, back = shaped(client)
    short = [t["name"] for t in body["tools"]]
    assert short == ["mcp__read_the_whole_file_tree", "x" * 64]
    assert body["tool_choice"]["name"] == short[0] and body["input"][0]["name"] == short[1]
    assert client["tools"][0]["name"] == LONG  # the caller's body is not mutated
    response = {"output": [{"type": "function_call", "name": short[0], "call_id": "c2", "arguments": "{}"}],
                "tools": body["tools"]}
    restore_tool_names(response, back)
    assert response["output"][0]["name"] == LONG and [t["name"] for t in response["tools"]] == [LONG, LONG2]
    event = {"type": "response.output_item.added", "item": {"type": "function_call", "name": short[1]}}
    assert restore_tool_names(event, back)["item"]["name"] == LONG2


def test_headers_forward_the_clients_codex_identity():
    client = {"Originator": "codex_exec", "User-Agent": "codex_exec/0.169.0", "session-id": "s1", "thread-id": "t1",
              "x-client-request-id": "r1", "x-codex-turn-metadata": "m", "x-codex-window-id": "w",
              "authorization": "Bearer gateway-key", "x-api-key": "k", "cookie": "c"}
    out = upstream_headers(client, originator="codex_cli_rs", user_agent="codex_cli_rs/1")
    assert out == {"originator": "codex_exec", "user-agent": "codex_exec/0.169.0", "session-id": "s1",
                   "thread-id": "t1", "x-client-request-id": "r1", "x-codex-turn-metadata": "m",
                   "x-codex-window-id": "w"}


def test_other_callers_get_one_codex_cli_identity_never_a_mix():
    for client in ({"user-agent": "factory-cli/0.215.0"}, {"User-Agent": "OpenAI/Python 3.1", "originator": "mine",
                                                            "version": "9"}):
        assert upstream_headers(client, originator="codex_cli_rs", user_agent="codex_cli_rs/1 (x)") == {
            "originator": "codex_cli_rs", "user-agent": "codex_cli_rs/1 (x)"}
    codex = {"originator": "codex_cli_rs", "user-agent": "codex_cli_rs/0.200.0 (Linux)", "version": "0.200.0"}
    assert upstream_headers(codex, originator="codex_cli_rs", user_agent="other/1") == codex


def test_headers_default_to_codex_cli_identity():
    assert upstream_headers({}, originator="codex_cli_rs", user_agent="ua/1") == {
        "originator": "codex_cli_rs", "user-agent": "ua/1"}


def test_forced_effort_survives_a_summary_only_reasoning():
    assert forced_reasoning({"summary": "auto"}, "high", "medium") == {"summary": "auto", "effort": "high"}
    assert forced_reasoning({"effort": "low"}, "high", "medium")["effort"] == "high"
    assert forced_reasoning({"effort": "low"}, None, "medium")["effort"] == "low"
    assert forced_reasoning(None, None, "medium") == {"effort": "medium"}


class CallTypes(Enum):  # LiteLLM passes its own enum; only `.value` matters
    aresponses = "aresponses"
    acompletion = "acompletion"
    anthropic_messages = "anthropic_messages"


def test_prepare_call_for_responses():
    kwargs = {"reasoning": {"summary": "auto"}, "extra_headers": {"chatgpt-account-id": "stale", "X-Other": "1"}}
    prepare_call(kwargs, CallTypes.aresponses, access_token="at", account_id="acct", forced_effort="high",
                 settings=SETTINGS)
    assert kwargs["api_key"] == "at"
    assert kwargs["extra_headers"] == {"X-Other": "1", "ChatGPT-Account-Id": "acct"}
    assert kwargs["reasoning"] == {"summary": "auto", "effort": "high"}


def test_prepare_call_for_chat_and_messages():
    chat = {"reasoning_effort": "low"}
    prepare_call(chat, CallTypes.acompletion, access_token="at", account_id="a", forced_effort="high",
                 settings=SETTINGS)
    assert chat["reasoning_effort"] == "high"
    bare = {}
    prepare_call(bare, "acompletion", access_token="at", account_id="a", forced_effort=None, settings=SETTINGS)
    assert bare["reasoning_effort"] == SETTINGS.default_effort
    client_choice = {"reasoning_effort": "low"}
    prepare_call(client_choice, CallTypes.acompletion, access_token="at", account_id="a", forced_effort=None,
                 settings=SETTINGS)
    assert client_choice["reasoning_effort"] == "low"
    messages = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    prepare_call(messages, CallTypes.anthropic_messages, access_token="at", account_id="a", forced_effort="high",
                 settings=SETTINGS)
    assert messages["api_key"] == "at" and "reasoning_effort" not in messages and "reasoning" not in messages
