"""custom_providers/claude/relay.py: each listed edit, and nothing else."""

from __future__ import annotations

import copy

from custom_providers.claude.relay import is_subscription_token, relay_body, relay_headers
from custom_providers.claude.shaping import CLAUDE_CODE_IDENTITY

UA = "claude-cli/2.1.220 (external, cli)"
BODY = {"model": "alias", "max_tokens": 5, "future": {"x": 1}, "metadata": {"user_id": "u"},
        "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "new_field": True}]}],
        "tools": [{"type": "tool_of_2099", "name": "x"}]}


def test_only_the_model_changes_for_a_body_that_carries_the_identity() -> None:
    out = relay_body(copy.deepcopy(BODY), model="claude-sonnet-4-5")
    assert out == dict(BODY, model="claude-sonnet-4-5")


def test_identity_is_prepended_and_the_callers_system_kept() -> None:
    out = relay_body(dict(BODY, system="You are Droid."), model="m")
    assert out["system"] == [{"type": "text", "text": CLAUDE_CODE_IDENTITY}, {"type": "text", "text": "You are Droid."}]


def test_unsigned_thinking_is_removed_from_replayed_turns() -> None:
    turn = {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": ""},
                                             {"type": "text", "text": "ok"}]}
    out = relay_body(dict(BODY, messages=[*BODY["messages"], turn]), model="m")
    assert out["messages"][1]["content"] == [{"type": "text", "text": "ok"}]


def test_headers_keep_everything_but_credentials_transport_and_refused_betas() -> None:
    client = {"x-api-key": "gw-key", "authorization": "Bearer gw", "host": "localhost", "content-length": "9",
              "anthropic-version": "2099-01-01", "anthropic-beta": "new-beta-1,context-1m-2025-08-07",
              "x-claude-code-session-id": "s", "x-new": "v", "user-agent": "claude-cli/9.9.9 (external, cli)",
              "x-app": "cli", "x-stainless-os": "Linux"}
    out = relay_headers(client, token="sk-ant-oat01-T", user_agent=UA)
    assert out == {"authorization": "Bearer sk-ant-oat01-T", "anthropic-version": "2099-01-01",
                   "anthropic-beta": "new-beta-1,oauth-2025-04-20", "x-claude-code-session-id": "s", "x-new": "v",
                   "user-agent": "claude-cli/9.9.9 (external, cli)", "x-app": "cli", "x-stainless-os": "Linux",
                   "content-type": "application/json"}


def test_other_callers_get_one_configured_identity() -> None:
    out = relay_headers({"user-agent": "Anthropic/Python 2.1", "x-stainless-lang": "python",
                         "anthropic-beta": "oauth-2025-04-20"}, token="sk-ant-oat01-T", user_agent=UA)
    assert (out["user-agent"], out["x-app"]) == (UA, "cli")
    assert not any(k.startswith("x-stainless") for k in out)
    assert out["anthropic-beta"] == "oauth-2025-04-20" and out["anthropic-version"] == "2023-06-01"


def test_only_subscription_tokens_are_relayed() -> None:
    assert is_subscription_token("sk-ant-oat01-abc") and not is_subscription_token("sk-ant-api03-abc")
