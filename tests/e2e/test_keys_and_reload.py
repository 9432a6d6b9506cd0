"""A gateway with client keys, and config edits applied while it runs."""

from __future__ import annotations

import subprocess
import sys
import time

import anthropic
import httpx
import openai
import pytest
import yaml

from tests.e2e.conftest import gateway_env
from tests.gateway_process import ROOT, GatewayProcess

KEY = "sk-gateway-client-key-1"
MODEL = "claude-sonnet-4-5-20250929"


@pytest.fixture(scope="module")
def keyed(claude_stack, codex_stack, auth_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keyed")
    config = tmp / "litellm.yaml"
    data = yaml.safe_load((ROOT / "config" / "litellm.yaml").read_text())
    data["gateway"]["api-keys"] = [KEY]
    data["gateway"]["amp"]["upstream-url"] = ""
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    env = gateway_env(claude_stack, codex_stack, auth_dir)
    env.pop("SUBGATE_AMP_UPSTREAM_URL")
    with GatewayProcess(env, log_path=tmp / "gw.log", config=config) as gw:
        gw.config_path = config
        yield gw


def test_missing_and_wrong_keys_refused_in_caller_dialect(keyed):
    r = httpx.post(keyed.url + "/v1/messages", json={"model": MODEL, "max_tokens": 5, "messages": []})
    assert r.status_code == 401 and r.json()["type"] == "error"
    assert r.json()["error"]["message"] == "Missing API key"
    r = httpx.post(keyed.url + "/v1/chat/completions", headers={"authorization": "Bearer nope"}, json={})
    assert r.status_code == 401 and r.json()["error"]["message"] == "Invalid API key"


@pytest.mark.parametrize("headers", [
    {"authorization": f"Bearer {KEY}"}, {"x-api-key": KEY}, {"x-goog-api-key": KEY},
])
def test_key_accepted_from_every_header(keyed, accounts, headers):
    accounts.add("claude")
    r = httpx.post(keyed.url + "/v1/messages", headers={**headers, "anthropic-version": "2023-06-01"},
                   json={"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}, timeout=30)
    assert r.status_code == 200, r.text


def test_sdks_work_with_the_key(keyed, accounts):
    accounts.add("claude")
    assert anthropic.Anthropic(base_url=keyed.url, api_key=KEY, max_retries=0).messages.create(
        model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}]).content
    assert MODEL in [m.id for m in openai.OpenAI(base_url=keyed.url + "/v1", api_key=KEY).models.list().data]


def test_amp_settings_and_keys_reload_without_restart(keyed, amp_stack):
    assert httpx.get(keyed.url + "/api/user", headers={"x-api-key": KEY}).status_code == 503
    data = yaml.safe_load(keyed.config_path.read_text())
    data["gateway"]["amp"]["upstream-url"] = amp_stack.url
    data["gateway"]["api-keys"] = [KEY, "sk-second-key"]
    keyed.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = httpx.get(keyed.url + "/api/user", headers={"x-api-key": "sk-second-key"})
        if r.status_code == 200:
            break
        time.sleep(0.1)
    assert r.status_code == 200
    assert amp_stack.recorder.for_path("/api/user")


def test_codex_settings_reload_without_restart(keyed, accounts, codex_stack):
    """An edit of gateway.codex reaches the next Codex call: the provider's settings exist once and the
    LiteLLM config reads them per call."""
    acct = accounts.add("codex")
    body = {"model": "gpt-5.1-codex", "input": "hi", "stream": True}
    headers = {"authorization": f"Bearer {KEY}", "user-agent": "some-sdk/1.0"}

    def sent() -> tuple[str, str]:
        with httpx.stream("POST", keyed.url + "/v1/responses", json=body, headers=headers, timeout=30) as r:
            assert r.status_code == 200 and b"response.completed" in b"".join(r.iter_bytes())
        seen = [x for x in codex_stack.api.recorder.requests if x.account == acct.email][-1]
        return seen.headers["user-agent"], seen.json()["instructions"]

    agent, instructions = sent()
    assert agent.startswith("codex_cli_rs/") and instructions != "Reloaded instructions."
    data = yaml.safe_load(keyed.config_path.read_text())
    data["gateway"].setdefault("codex", {}).update(
        {"user-agent": "codex_cli_rs/9.9.9 (reloaded)", "default-instructions": "Reloaded instructions."})
    keyed.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sent() != ("codex_cli_rs/9.9.9 (reloaded)", "Reloaded instructions."):
        time.sleep(0.2)
    assert sent() == ("codex_cli_rs/9.9.9 (reloaded)", "Reloaded instructions.")


def test_claude_settings_reload_without_restart(keyed, accounts, claude_stack):
    acct = accounts.add("claude")
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "user-agent": "some-sdk/1.0"}
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}

    def agent() -> str:
        r = httpx.post(keyed.url + "/v1/messages", headers=headers, json=body, timeout=30)
        assert r.status_code == 200, r.text
        return [x for x in claude_stack.api.recorder.requests if x.account == acct.email][-1].headers["user-agent"]

    assert agent().startswith("claude-cli/")
    data = yaml.safe_load(keyed.config_path.read_text())
    data["gateway"].setdefault("claude", {})["user-agent"] = "claude-cli/9.9.9 (external, reloaded)"
    keyed.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and agent() != "claude-cli/9.9.9 (external, reloaded)":
        time.sleep(0.2)
    assert agent() == "claude-cli/9.9.9 (external, reloaded)"


def test_non_loopback_bind_without_keys_refuses_to_start(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("gateway:\n  host: 0.0.0.0\n  api-keys: []\n")
    out = subprocess.run([sys.executable, "-m", "gateway.amp", "--config", str(config)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "api-keys" in out.stderr and "0.0.0.0" in out.stderr


@pytest.mark.parametrize("path", ["/key/generate", "/config/update", "/user/new", "/model/new"])
def test_litellm_admin_routes_are_not_offered(gateway, path):
    r = httpx.post(gateway.url + path, json={})
    assert r.status_code == 404
