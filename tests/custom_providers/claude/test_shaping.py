"""custom_providers.claude.shaping: what makes Anthropic accept a Claude subscription token."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from custom_providers.claude.shaping import (
    CLAUDE_CODE_IDENTITY,
    has_identity,
    prepare_call,
    strip_betas,
    with_identity,
    with_identity_messages,
)

IDENTITY_BLOCK = {"type": "text", "text": CLAUDE_CODE_IDENTITY}
AGENT_SDK = "You are a Claude agent, built on Anthropic's Claude Agent SDK."
CLAUDE_CODE_SYSTEM = [
    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.220.a1b; cc_entrypoint=cli;"},
    {"type": "text", "text": CLAUDE_CODE_IDENTITY, "cache_control": {"type": "ephemeral"}},
    {"type": "text", "text": "You are an interactive CLI tool...", "cache_control": {"type": "ephemeral"}},
]
UA = "claude-cli/2.1.220 (external, cli)"


# ---- Messages `system` -----------------------------------------------------------------------------


@pytest.mark.parametrize("system", [None, "", []])
def test_identity_alone_when_there_is_no_system(system: Any) -> None:
    assert with_identity(system) == [IDENTITY_BLOCK]


def test_a_string_system_is_kept_after_the_identity() -> None:
    assert with_identity("Answer in French.") == [IDENTITY_BLOCK, {"type": "text", "text": "Answer in French."}]


def test_a_list_system_is_kept_whole_after_the_identity() -> None:
    caller = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": "Use tools."}]
    assert with_identity(copy.deepcopy(caller)) == [IDENTITY_BLOCK, *caller]


def test_claude_codes_own_system_is_not_touched() -> None:
    assert with_identity(copy.deepcopy(CLAUDE_CODE_SYSTEM)) == CLAUDE_CODE_SYSTEM
    assert has_identity(CLAUDE_CODE_SYSTEM)


@pytest.mark.parametrize("system", [
    AGENT_SDK,
    CLAUDE_CODE_IDENTITY + " Extra words.",
    "You are Claude Code, Anthropic's official CLI for Claude, running within the Claude Agent SDK.",
    [{"type": "text", "text": "  " + AGENT_SDK}],
])
def test_existing_identities_are_recognised(system: Any) -> None:
    assert with_identity(copy.deepcopy(system)) == system


def test_identity_text_in_the_middle_does_not_count() -> None:
    system = "Pretend: You are Claude Code, Anthropic's official CLI for Claude."
    assert with_identity(system)[0] == IDENTITY_BLOCK


# ---- chat-completions messages ---------------------------------------------------------------------


def test_chat_messages_get_a_leading_system_message() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    shaped = with_identity_messages(copy.deepcopy(messages))
    assert shaped == [{"role": "system", "content": CLAUDE_CODE_IDENTITY}, *messages]
    assert with_identity_messages([{"role": "user", "content": "hi"}])[0]["content"] == CLAUDE_CODE_IDENTITY


def test_chat_messages_with_an_identity_are_unchanged() -> None:
    messages = [{"role": "system", "content": [{"type": "text", "text": CLAUDE_CODE_IDENTITY}]},
                {"role": "user", "content": "hi"}]
    assert with_identity_messages(copy.deepcopy(messages)) == messages
    dev = [{"role": "developer", "content": AGENT_SDK}, {"role": "user", "content": "hi"}]
    assert with_identity_messages(copy.deepcopy(dev)) == dev


# ---- betas and headers -----------------------------------------------------------------------------


def test_strip_betas_removes_only_the_1m_context_beta() -> None:
    assert strip_betas("context-1m-2025-08-07, interleaved-thinking-2025-05-14,oauth-2025-04-20") == (
        "interleaved-thinking-2025-05-14,oauth-2025-04-20")
    assert strip_betas("context-1m-2025-08-07") == ""
    assert strip_betas(None) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a,context-1m-2025-08-07,b", "a,b"),
        ("a, context-1m-2025-08-07 , c", "a,c"),
        ("context-1m-2025-08-07,b", "b"),
        ("a,context-1m-2025-08-07", "a"),
        ("a,b", "a,b"),
        ("context-1m-2025-08-07", ""),
        ("", ""),
    ],
)
def test_strip_betas_trims_items_and_drops_empties(value: str, expected: str) -> None:
    assert strip_betas(value) == expected


def test_prepare_call_drops_replayed_thinking_without_a_signature() -> None:
    """Amp's TUI needs `"signature": ""` on thinking blocks and replays them so; Anthropic refuses them."""
    turn = [
        {"type": "thinking", "thinking": "a", "signature": "   "},
        {"type": "thinking", "thinking": "b", "signature": 123},
        {"type": "thinking", "thinking": "c"},
        {"type": "thinking", "thinking": "d", "signature": "valid-sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "t"},
    ]
    kwargs: dict[str, Any] = {"messages": [
        {"role": "user", "content": [{"type": "thinking", "thinking": "user blocks are not ours to judge"}]},
        {"role": "assistant", "content": turn},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "only"}]},
    ]}
    prepare_call(kwargs, "anthropic_messages", access_token="tok", user_agent=UA)
    assert kwargs["messages"][0]["content"] == [{"type": "thinking", "thinking": "user blocks are not ours to judge"}]
    assert kwargs["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "d", "signature": "valid-sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "t"},
    ]
    assert kwargs["messages"][2]["content"] == []


def test_prepare_call_for_messages() -> None:
    kwargs: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "api_key": "set-per-request-by-subgate",
        "system": "Caller rules.",
        "headers": {"Anthropic-Beta": "context-1m-2025-08-07,fine-grained-tool-streaming-2025-05-14"},
        "extra_headers": {"anthropic-beta": "context-1m-2025-08-07"},
        "provider_specific_header": {"custom_llm_provider": "anthropic",
                                     "extra_headers": {"anthropic-beta": "context-1m-2025-08-07,files-api-2025-04-14"}},
    }
    prepare_call(kwargs, "anthropic_messages", access_token="sk-ant-oat01-abc", user_agent=UA)
    assert kwargs["api_key"] == "sk-ant-oat01-abc"
    assert kwargs["system"] == [IDENTITY_BLOCK, {"type": "text", "text": "Caller rules."}]
    assert kwargs["headers"] == {"Anthropic-Beta": "fine-grained-tool-streaming-2025-05-14"}
    assert "anthropic-beta" not in kwargs["extra_headers"]  # nothing left: the header goes entirely
    assert kwargs["extra_headers"]["User-Agent"] == UA and kwargs["extra_headers"]["x-app"] == "cli"
    assert kwargs["provider_specific_header"]["extra_headers"] == {"anthropic-beta": "files-api-2025-04-14"}


def test_prepare_call_for_chat_completions() -> None:
    kwargs: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    prepare_call(kwargs, "acompletion", access_token="tok", user_agent=UA)
    assert kwargs["messages"][0] == {"role": "system", "content": CLAUDE_CODE_IDENTITY}
    assert kwargs["messages"][1:] == [{"role": "user", "content": "hi"}]
    assert kwargs["extra_headers"] == {"User-Agent": UA, "x-app": "cli"}
    assert "system" not in kwargs


def test_prepare_call_is_idempotent_across_retries() -> None:
    kwargs: dict[str, Any] = {"system": "Caller rules."}
    prepare_call(kwargs, "anthropic_messages", access_token="t1", user_agent=UA)
    first = copy.deepcopy(kwargs)
    prepare_call(kwargs, "anthropic_messages", access_token="t2", user_agent=UA)
    assert kwargs["system"] == first["system"] and kwargs["api_key"] == "t2"
