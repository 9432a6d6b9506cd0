"""Claude Code (`claude -p`) pointed at the gateway with ANTHROPIC_BASE_URL, served by a Claude subscription.

Observed with 2.1.332: everything goes to `POST /v1/messages?beta=true`; nothing reaches another host
on the paths these tests exercise. Its system prompt already opens (after the billing line) with the
Agent SDK identity, so the gateway must keep the blocks as they are. It asks for the 1M-context beta
only for a `[1m]` model; its default model is `claude-opus-5-5` (clients.md lists 2.1's as
claude-opus-4-8), which the gateway's `claude-*` entry serves.
"""

from __future__ import annotations

import json

from tests.e2e_cli.clis import requires, run_cli
from tests.fakes.anthropic_rules import IDENTITY_PREFIXES, LONG_CONTEXT_BETA

pytestmark = requires("claude")

MODEL = "claude-sonnet-4-5-20250929"
REPLY = "pong from the fake Anthropic API"
QUIET = {"DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


def claude(sandbox, base_url: str, *args: str, **env: str):
    run = run_cli("claude", ["-p", "say hi", *args], home=sandbox.home, cwd=sandbox.work,
                  env={"ANTHROPIC_BASE_URL": base_url, **QUIET, **env})
    assert run.returncode == 0, run.explain()
    return run


def betas(headers: dict[str, str]) -> set[str]:
    return {b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()}


def system_texts(body: dict) -> list[str]:
    system = body.get("system") or []
    return [system] if isinstance(system, str) else [b["text"] for b in system]


def test_print_mode_answers_from_the_subscription(gateway, accounts, claude_stack, tap, sandbox):
    acct = accounts.add("claude")
    claude_stack.api.set_mode(acct.email, {"text": REPLY})

    run = claude(sandbox, tap.url, "--model", MODEL, "--tools", "", ANTHROPIC_API_KEY="dummy-not-used")

    assert REPLY in run.stdout
    [sent] = tap.tap.requests("/v1/messages")
    [seen] = claude_stack.api.messages_requests(acct.email)
    assert sent.query == "beta=true" and sent.headers["x-api-key"] == "dummy-not-used"
    assert sent.headers["user-agent"].startswith("claude-cli/2.1.332")
    assert seen.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert "x-api-key" not in seen.headers and "dummy-not-used" not in json.dumps(seen.headers)
    assert "oauth-2025-04-20" in betas(seen.headers)
    assert betas(sent.headers) <= betas(seen.headers)  # nothing the CLI asked for was dropped
    client, upstream = sent.json(), seen.json()
    assert upstream["model"] == MODEL
    # Claude Code's own blocks arrive as sent: identity already there, so none is added.
    assert system_texts(upstream) == system_texts(client)
    assert sum(t.startswith(IDENTITY_PREFIXES) for t in system_texts(upstream)) == 1
    assert upstream["metadata"] == client["metadata"] and upstream["thinking"] == client["thinking"]


def test_long_context_beta_is_dropped_for_the_subscription(gateway, accounts, claude_stack, tap, sandbox):
    acct = accounts.add("claude")
    claude_stack.api.set_mode(acct.email, {"text": REPLY})

    run = claude(sandbox, tap.url, "--model", f"{MODEL}[1m]", "--tools", "", ANTHROPIC_AUTH_TOKEN="dummy-not-used")

    assert REPLY in run.stdout  # the fake refuses the 1M beta on OAuth tokens, as the real API does
    [sent] = tap.tap.requests("/v1/messages")
    [seen] = claude_stack.api.messages_requests(acct.email)
    assert sent.headers["authorization"] == "Bearer dummy-not-used"
    assert LONG_CONTEXT_BETA in betas(sent.headers)
    assert LONG_CONTEXT_BETA not in betas(seen.headers) and "oauth-2025-04-20" in betas(seen.headers)
    assert seen.headers["authorization"] == f"Bearer {acct.grant.access_token}"


def test_tool_loop_runs_glob_locally_and_replays_thinking(gateway, accounts, claude_stack, sandbox):
    acct = accounts.add("claude")
    (sandbox.work / "fake").write_text("a file for the fake's Glob pattern\n")

    # The fake calls the first tool with placeholder arguments: Glob {"pattern": "fake"} (read-only).
    run = claude(sandbox, gateway.url, "--model", MODEL, "--tools", "Glob", ANTHROPIC_API_KEY="dummy-not-used")

    assert "tool said: fake" in run.stdout  # Glob's answer (the match, relative), not "No files found"
    first, second = claude_stack.api.messages_requests(acct.email)
    assert [t["name"] for t in first.json()["tools"]] == ["Glob"]
    *_, assistant, user = second.json()["messages"]
    assert [b["type"] for b in assistant["content"]] == ["thinking", "tool_use"]  # signature checked by the fake
    tool_use = assistant["content"][1]
    assert tool_use["name"] == "Glob" and tool_use["input"] == {"pattern": "fake"}
    result = next(b for b in user["content"] if b.get("type") == "tool_result")
    assert result["tool_use_id"] == tool_use["id"] and "fake" in json.dumps(result["content"])
