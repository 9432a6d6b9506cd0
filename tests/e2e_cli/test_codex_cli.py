"""Codex CLI (`codex exec`) with a custom Responses provider pointed at the gateway's /v1.

The npm package `@openai/codex@0.169.0` pulls its linux-x64 native binary from the registry as the
optional dependency `@openai/codex@0.169.0-linux-x64`, so nothing is downloaded from elsewhere. With a
custom provider and `env_key` it needs no ChatGPT login and calls only `{base_url}/responses`; it also
looks up chatgpt.com, ab.chatgpt.com, github.com and api.github.com (update check / analytics), which
fail here without delaying the run.
Observed with 0.169.0 (differs from clients.md): the tools were exec_command, write_stdin,
request_user_input, view_image, multi_agent_v1, get/create/update_goal, web_search -- no apply_patch
or namespace tool for `gpt-5.1-codex` (it warns the model's metadata is unknown) -- and no `text` field.
"""

from __future__ import annotations

from tests.e2e_cli.clis import requires, run_cli

pytestmark = requires("codex")

MODEL = "gpt-5.1-codex"
REPLY = "pong from the fake Codex backend"


def codex(sandbox, base_url: str):
    codex_home = sandbox.home / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(
        f'model = "{MODEL}"\nmodel_provider = "subgate"\n\n'
        f'[model_providers.subgate]\nname = "subgate"\nbase_url = "{base_url}/v1"\n'
        'wire_api = "responses"\nenv_key = "SUBGATE_KEY"\n'
    )
    run = run_cli("codex", ["exec", "--skip-git-repo-check", "say hi"], home=sandbox.home, cwd=sandbox.work,
                  env={"CODEX_HOME": str(codex_home), "SUBGATE_KEY": "dummy-not-used"})
    assert run.returncode == 0, run.explain()
    return run


def test_exec_answers_from_the_chatgpt_subscription(gateway, accounts, codex_stack, tap, sandbox):
    acct = accounts.add("codex")
    codex_stack.api.set_mode(acct.email, {"text": REPLY})

    run = codex(sandbox, tap.url)

    assert REPLY in run.stdout
    [sent] = tap.tap.requests("/v1/responses")
    [seen] = [r for r in codex_stack.api.recorder.requests if r.account == acct.email]
    assert sent.headers["authorization"] == "Bearer dummy-not-used"
    assert sent.headers["originator"] == "codex_exec" and sent.headers["user-agent"].startswith("codex_exec/0.169.0")
    assert seen.headers["authorization"] == f"Bearer {acct.grant.access_token}"
    assert seen.headers["chatgpt-account-id"] == acct.grant.account_id
    for name in ("originator", "session-id", "x-codex-window-id"):
        assert seen.headers[name] == sent.headers[name]
    client, upstream = sent.json(), seen.json()
    assert "instructions" not in client  # Codex CLI puts its prompt in a developer message
    assert upstream["instructions"].strip()
    assert upstream["model"] == MODEL and upstream["stream"] is True and upstream["store"] is False
    assert upstream["input"] == client["input"] and upstream["prompt_cache_key"] == client["prompt_cache_key"]


def test_exec_runs_the_shell_tool_and_replays_reasoning(gateway, accounts, codex_stack, sandbox):
    acct = accounts.add("codex")
    # exec_command's argument is `cmd`; the command is harmless and runs inside Codex's read-only sandbox.
    codex_stack.api.set_mode(acct.email, {"call": "exec_command", "arguments": {"cmd": "echo subgate-tool-ran"}})

    run = codex(sandbox, gateway.url)

    assert "subgate-tool-ran" in run.stdout + run.stderr
    assert "Hello from the fake Codex backend." in run.stdout  # the text answer after the tool result
    first, second = [r.json() for r in codex_stack.api.recorder.requests if r.account == acct.email]
    assert "exec_command" in [t.get("name") for t in first["tools"]]
    by_type = {item.get("type"): item for item in second["input"]}
    assert by_type["reasoning"]["encrypted_content"].startswith("gAAAA")  # verified by the fake
    call, output = by_type["function_call"], by_type["function_call_output"]
    assert call["name"] == "exec_command" and output["call_id"] == call["call_id"]
    assert "subgate-tool-ran" in output["output"]
