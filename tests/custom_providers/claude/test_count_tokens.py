"""custom_providers.claude.count_tokens: the upstream request the gateway sends for /v1/messages/count_tokens."""

from __future__ import annotations

import json

from custom_providers.claude.count_tokens import upstream_request
from custom_providers.claude.shaping import CLAUDE_CODE_IDENTITY

UA = "claude-cli/2.1.220 (external, cli)"


def test_the_account_token_betas_and_identity_are_sent() -> None:
    body = {"model": "claude-sonnet-4-5", "system": "Be brief.", "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": [{"role": "user", "content": "hi"}], "future_field": 1}
    headers, content = upstream_request(
        body,
        {"anthropic-beta": "context-1m-2025-08-07,interleaved-thinking-2025-05-14", "anthropic-version": "2023-06-01"},
        token="sk-ant-oat01-tok",
        user_agent=UA,
    )
    assert headers["Authorization"] == "Bearer sk-ant-oat01-tok"
    betas = headers["anthropic-beta"].split(",")
    assert "context-1m-2025-08-07" not in betas
    assert {"interleaved-thinking-2025-05-14", "oauth-2025-04-20", "claude-code-20250219"} <= set(betas)
    assert headers["User-Agent"] == UA and headers["x-app"] == "cli"
    sent = json.loads(content)
    assert sent["system"][0]["text"] == CLAUDE_CODE_IDENTITY
    assert sent["system"][1]["text"] == "Be brief."
    assert sent["thinking"] == body["thinking"] and sent["future_field"] == 1  # the client's body as sent
    assert body["system"] == "Be brief."  # the caller's dict is not modified


def test_defaults_without_client_headers() -> None:
    headers, content = upstream_request({"model": "m", "messages": []}, {}, token="t", user_agent=UA)
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "oauth-2025-04-20,claude-code-20250219"
    assert json.loads(content)["system"] == [{"type": "text", "text": CLAUDE_CODE_IDENTITY}]


def test_betas_are_not_duplicated() -> None:
    headers, _ = upstream_request({"messages": []}, {"anthropic-beta": "oauth-2025-04-20"}, token="t", user_agent=UA)
    assert headers["anthropic-beta"].split(",").count("oauth-2025-04-20") == 1
