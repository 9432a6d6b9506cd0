"""Codex CLI over the Responses WebSocket: `supports_websockets = true` on a provider pointed at the gateway.

With that setting `@openai/codex@0.169.0` opens `ws://<gateway>/v1/responses` (OpenAI-Beta:
responses_websockets=2026-02-06) before any HTTP call, warms it up with a `generate: false` turn, then
runs every turn of the session on that socket; it posts to `/v1/responses` only after the socket
failed (docs/relay.md, "Codex Responses over WebSocket"). The gateway relays each turn to the Codex
backend's WebSocket for the account the Router picks (gateway/responses_websocket.py), so a session
that used WebSocket end to end shows frames and handshakes at the fake backend's socket and no HTTP
`/responses` call at all.
"""

from __future__ import annotations

from tests.e2e_cli.clis import requires, run_cli

pytestmark = requires("codex")

MODEL = "gpt-5.1-codex"
BETA = "responses_websockets=2026-02-06"


def codex_over_websocket(sandbox, base_url: str, prompt: str):
    codex_home = sandbox.home / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(
        f'model = "{MODEL}"\nmodel_provider = "subgate"\n\n'
        f'[model_providers.subgate]\nname = "subgate"\nbase_url = "{base_url}/v1"\n'
        'wire_api = "responses"\nenv_key = "SUBGATE_KEY"\nsupports_websockets = true\n'
    )
    run = run_cli("codex", ["exec", "--skip-git-repo-check", prompt], home=sandbox.home, cwd=sandbox.work,
                  env={"CODEX_HOME": str(codex_home), "SUBGATE_KEY": "dummy-not-used"})
    assert run.returncode == 0, run.explain()
    return run


def test_a_tool_turn_completes_over_the_websocket_without_http_fallback(gateway, accounts, codex_stack, sandbox):
    acct = accounts.add("codex")
    # exec_command's argument is `cmd`; the command is harmless and runs inside Codex's read-only sandbox.
    codex_stack.api.set_mode(acct.email, {"call": "exec_command", "arguments": {"cmd": "echo subgate-ws-tool-ran"}})
    socket = codex_stack.api.websocket
    before = len(socket.recorder.requests)

    run = codex_over_websocket(sandbox, gateway.url, "run the echo")

    assert "subgate-ws-tool-ran" in run.stdout + run.stderr
    assert "Hello from the fake Codex backend." in run.stdout  # the text answer after the tool result
    assert codex_stack.api.hits(acct.email) == 0  # no HTTP /responses: Codex never fell back
    seen = [r for r in socket.recorder.requests[before:] if r.account == acct.email]
    handshakes = [r for r in seen if r.method == "GET"]
    frames = [r.json() for r in seen if r.method == "WS"]
    assert handshakes and all(h.headers["openai-beta"] == BETA for h in handshakes)
    assert handshakes[0].headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert handshakes[0].headers["originator"] == "codex_exec"
    assert all(f["type"] == "response.create" and f["store"] is False for f in frames)
    outputs = [item for f in frames for item in f["input"] if item.get("type") == "function_call_output"]
    assert outputs and "subgate-ws-tool-ran" in outputs[0]["output"]  # the tool result went up the socket


def test_under_litellm_config_codex_falls_back_to_http_at_once(plain, accounts, codex_stack, sandbox):
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"text": "answered over HTTP"})
    socket = codex_stack.api.websocket
    before = len(socket.recorder.requests)

    run = codex_over_websocket(sandbox, plain, "say hi")

    assert "answered over HTTP" in run.stdout
    assert codex_stack.api.hits(acct.email) >= 1 and len(socket.recorder.requests) == before
    assert "Reconnecting" not in run.stdout + run.stderr  # the 426 is a clean fallback, no retries
