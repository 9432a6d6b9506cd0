"""Factory droid (`droid exec -m custom:<model>`) with the custom models `gateway factory-config` writes.

The npm package `droid@0.215.0` takes its native binary from the registry (`@factory/cli-linux-x64`).
Custom models need no Factory login: `droid exec` ran offline here. It does look up api.factory.ai
(and a *.run.app host) and gives up after ~6 s, so each run takes ~8 s. Observed with 0.215.0 (differs from
clients.md): for claude-sonnet-4-5 it sends `thinking: {type: enabled, budget_tokens: 24576}` and no
output_config; for gpt-5.1-codex no `safety_identifier` and no `text`. Its tools: Read, LS, Execute,
Grep, Glob, ToolSearch, Skill -- the fake's first call is Read {"file_path": "fake"}, which droid
refuses locally (relative path), so the tool loop is harmless.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e_cli.clis import requires, run_cli
from tests.fakes.anthropic_rules import IDENTITY_PREFIXES
from tests.gateway_process import ROOT

pytestmark = requires("droid")

CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
GPT_MODEL = "gpt-5.1-codex"
REPLY = "pong from codex through droid"


def droid(sandbox, base_url: str, model: str):
    port = base_url.rsplit(":", 1)[1]
    config = sandbox.home / ".factory" / "config.json"
    subprocess.run([sys.executable, "-m", "gateway", "factory-config", "--port", port, "--path", str(config),
                    "--only", f"{CLAUDE_MODEL},{GPT_MODEL}"], cwd=ROOT, check=True, capture_output=True)
    run = run_cli("droid", ["exec", "-m", f"custom:{model}", "say hi"], home=sandbox.home, cwd=sandbox.work, env={})
    assert run.returncode == 0, run.explain()
    return run


def test_anthropic_custom_model_gets_identity_and_completes_a_tool_turn(gateway, accounts, claude_stack, tap,
                                                                        sandbox):
    acct = accounts.add("claude")

    run = droid(sandbox, tap.url, CLAUDE_MODEL)

    assert "tool said:" in run.stdout and "absolute path" in run.stdout
    sent = tap.tap.requests("/v1/messages")
    first, second = claude_stack.api.messages_requests(acct.email)
    assert len(sent) == 2 and sent[0].headers["x-api-key"] == "dummy-not-used"
    assert sent[0].headers["user-agent"] == "factory-cli/0.215.0"
    client = sent[0].json()
    client_system = [b["text"] for b in client["system"]]
    assert client_system[0].startswith("You are Droid") and not any(t.startswith(IDENTITY_PREFIXES) for t in client_system)
    assert first.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert "dummy-not-used" not in json.dumps(first.headers)
    upstream_system = [b["text"] for b in first.json()["system"]]
    assert upstream_system[0] == IDENTITY_PREFIXES[0]  # prepended, the Droid prompt kept after it
    assert upstream_system[1:] == client_system
    assert first.json()["tools"] == client["tools"]
    assert second.json()["messages"][-1]["content"][0]["type"] == "tool_result"


def test_openai_custom_model_is_served_by_the_codex_backend(gateway, accounts, codex_stack, tap, sandbox):
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"text": REPLY})

    run = droid(sandbox, tap.url, GPT_MODEL)

    assert REPLY in run.stdout
    [sent] = tap.tap.requests("/v1/responses")
    [seen] = [r for r in codex_stack.api.recorder.requests if r.account == acct.email]
    assert sent.headers["authorization"] == "Bearer dummy-not-used"
    assert seen.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert seen.headers["chatgpt-account-id"] == acct.grant.account_id
    client, upstream = sent.json(), seen.json()
    assert upstream["instructions"] == client["instructions"] and client["instructions"].startswith("You are Droid")
    assert upstream["model"] == GPT_MODEL and upstream["reasoning"] == client["reasoning"]
    assert upstream["store"] is False and upstream["stream"] is True
