"""Chat completions and Anthropic messages reaching Codex through LiteLLM's own bridges.

A LiteLLM Router with gateway-shaped deployments (`model_info.mode: responses`, a forced effort) and a
stand-in for the gateway's deployment hook that calls `shaping.prepare_call`, as the real hook does,
on every nested call LiteLLM makes (messages → completion → responses).
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "true")

import litellm  # noqa: E402
import pytest  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

from custom_providers.codex.litellm_adapter import register  # noqa: E402
from custom_providers.codex.settings import CodexSettings  # noqa: E402
from custom_providers.codex.shaping import prepare_call  # noqa: E402
from tests.fakes.codex_backend import DEFAULT_TEXT  # noqa: E402

SETTINGS = CodexSettings(default_instructions="Configured instructions.", user_agent="codex_cli_rs/7.7.7 (configured)")
LONG = "mcp__" + "filesystem_server_" * 3 + "__read_text_file_with_a_rather_long_name"
register()
litellm.suppress_debug_info = True


class AccountHook(CustomLogger):
    """What gateway/hook.py does for Codex deployments, with the accounts of the fake's token book."""

    def __init__(self, grants):
        super().__init__()
        self.grants = grants
        self.call_types = []

    async def async_pre_call_deployment_hook(self, kwargs, call_type):
        info = kwargs.get("model_info") or {}
        grant = self.grants[info["gw_account"]]
        self.call_types.append(str(getattr(call_type, "value", call_type)))
        prepare_call(kwargs, call_type, access_token=grant.access_token, account_id=grant.account_id,
                     forced_effort=info.get("gw_reasoning_effort"), settings=SETTINGS)
        return kwargs


@pytest.fixture
def hook(alice):
    hook = AccountHook({"alice": alice})
    litellm.callbacks.append(hook)
    yield hook
    litellm.callbacks.remove(hook)


@pytest.fixture
def router(codex_base, hook):
    def entry(name, **info):
        return {"model_name": name,
                "litellm_params": {"model": "chatgpt/gpt-5.1-codex", "api_base": codex_base},
                "model_info": {"id": f"codex-{name}", "mode": "responses", "gw_account": "alice", **info}}
    return litellm.Router(model_list=[entry("gpt-5.1-codex-high", gw_reasoning_effort="high"),
                                      entry("gpt-5.1-codex")], num_retries=0)


CHAT_TOOLS = [{"type": "function", "function": {"name": LONG, "description": "Read a file",
                                                "parameters": {"type": "object", "properties": {}}}},
              {"type": "function", "function": {"name": "list_dir", "parameters": {"type": "object"}}}]
ANTHROPIC_TOOLS = [{"name": LONG, "description": "Read a file", "input_schema": {"type": "object", "properties": {}}}]


async def test_chat_gets_reasoning_content_and_the_forced_effort(router, codex_backend):
    response = await router.acompletion(model="gpt-5.1-codex-high", reasoning_effort="low", messages=[
        {"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}])
    message = response.choices[0].message
    assert message.content == DEFAULT_TEXT and message.reasoning_content
    body = codex_backend.bodies()[0]
    assert body["reasoning"]["effort"] == "high" and body["instructions"] == "Be terse."


async def test_bridged_chat_uses_the_settings_the_hook_hands_over(router, codex_backend):
    """The settings reach the config classes with the call (no copy on the class), through the bridge too."""
    await router.acompletion(model="gpt-5.1-codex", messages=[{"role": "user", "content": "hi"}])
    assert codex_backend.bodies()[0]["instructions"] == "Configured instructions."
    assert codex_backend.recorder.requests[-1].headers["user-agent"] == "codex_cli_rs/7.7.7 (configured)"


async def test_bare_model_without_client_effort_gets_the_default(router, codex_backend):
    await router.aresponses(model="gpt-5.1-codex", input="hi", reasoning={"summary": "auto"})
    assert codex_backend.bodies()[0]["reasoning"] == {"summary": "auto", "effort": SETTINGS.default_effort}


async def test_summary_only_reasoning_keeps_the_forced_effort(router, codex_backend):
    await router.aresponses(model="gpt-5.1-codex-high", input="hi", reasoning={"summary": "auto"})
    assert codex_backend.bodies()[0]["reasoning"] == {"summary": "auto", "effort": "high"}


async def test_streamed_chat_tool_calls_have_increasing_indices_and_client_names(router, codex_backend):
    codex_backend.recorder.script({"tool_calls": 2})
    stream = await router.acompletion(model="gpt-5.1-codex-high", stream=True, tools=CHAT_TOOLS,
                                      messages=[{"role": "user", "content": "look around"}])
    calls, reasoning, finish = {}, "", None
    async for chunk in stream:
        delta = chunk.choices[0].delta
        reasoning += getattr(delta, "reasoning_content", None) or ""
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"name": None, "arguments": ""})
            entry["name"] = call.function.name or entry["name"]
            entry["arguments"] += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert sorted(calls) == [0, 1] and [calls[0]["name"], calls[1]["name"]] == [LONG, "list_dir"]
    assert all(json.loads(c["arguments"]) == {"path": "README.md"} for c in calls.values())
    assert reasoning and finish == "tool_calls"
    assert all(len(t["name"]) <= 64 and "strict" not in t for t in codex_backend.bodies()[0]["tools"])


async def test_chat_tool_round_trip(router, codex_backend):
    messages = [{"role": "user", "content": "read it"}]
    first = await router.acompletion(model="gpt-5.1-codex-high", tools=CHAT_TOOLS, messages=messages)
    (call,) = first.choices[0].message.tool_calls
    assert call.function.name == LONG and first.choices[0].finish_reason == "tool_calls"
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "# subgate"}]
    second = await router.acompletion(model="gpt-5.1-codex-high", tools=CHAT_TOOLS, messages=messages)
    assert second.choices[0].message.content == DEFAULT_TEXT  # the fake paired the output with its call
    kinds = [item.get("type") for item in codex_backend.bodies()[1]["input"]]
    assert "function_call" in kinds and kinds[-1] == "function_call_output"


async def test_anthropic_messages_round_trip_with_thinking_and_tools(router, codex_backend, hook):
    request = {"model": "gpt-5.1-codex-high", "max_tokens": 2048, "system": "You are Droid.",
               "tools": ANTHROPIC_TOOLS, "messages": [{"role": "user", "content": "read it"}]}
    first = await router.aanthropic_messages(**request)
    blocks = {block["type"]: block for block in first["content"]}
    assert blocks["tool_use"]["name"] == LONG and blocks["thinking"]["signature"]
    assert first["stop_reason"] == "tool_use"
    assert hook.call_types[:3] == ["anthropic_messages", "acompletion", "aresponses"]
    sent = codex_backend.bodies()[0]
    assert sent["instructions"] == "You are Droid." and sent["reasoning"]["effort"] == "high"
    assert "max_output_tokens" not in sent and "max_tokens" not in sent
    request["messages"] += [{"role": "assistant", "content": first["content"]},
                            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": blocks["tool_use"]["id"],
                                                          "content": "# subgate"}]}]
    second = await router.aanthropic_messages(**request)
    assert [b["text"] for b in second["content"] if b["type"] == "text"] == [DEFAULT_TEXT]
    replayed = [item for item in codex_backend.bodies()[1]["input"] if item.get("type") == "reasoning"]
    assert replayed and replayed[0]["encrypted_content"]  # accepted by the fake's signature check


async def test_anthropic_messages_stream(router):
    stream = await router.aanthropic_messages(model="gpt-5.1-codex-high", max_tokens=1024, stream=True,
                                              messages=[{"role": "user", "content": "hi"}])
    raw = b"".join([chunk async for chunk in stream]).decode()
    events = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    texts = [json.loads(line[6:])["delta"].get("text", "") for line in raw.splitlines()
             if line.startswith("data: ") and '"text_delta"' in line]
    assert "".join(texts) == DEFAULT_TEXT


async def test_upstream_401_reaches_the_router_as_an_authentication_error(router, codex_backend):
    codex_backend.recorder.script({"status": 401, "code": "token_expired"})
    with pytest.raises(litellm.AuthenticationError):
        await router.acompletion(model="gpt-5.1-codex-high", messages=[{"role": "user", "content": "hi"}])
