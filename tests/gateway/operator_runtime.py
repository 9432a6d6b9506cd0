"""A real Runtime over a temporary auth-dir and config file, for the operator-route unit tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gateway.config import load_settings
from gateway.runtime import build_runtime, Runtime

CONFIG = """\
# my gateway config; this comment must survive management writes
model_list:
  # Claude accounts
  - model_name: claude-sonnet-4-5-20250929
    litellm_params: {model: anthropic/claude-sonnet-4-5-20250929, litellm_credential_name: claude}
  - model_name: gpt-5.1
    litellm_params: {model: chatgpt/gpt-5.1, litellm_credential_name: codex}
    model_info: {mode: responses}

litellm_settings:
  callbacks: gateway.hook.proxy_hook

gateway:
  host: 127.0.0.1
  auth-dir: AUTH_DIR
  api-keys: []
  remote-management:
    secret-key: SECRET   # set by the operator
    allow-remote: false
  amp:
    upstream-url: https://ampcode.com
    upstream-api-key: "amp-upstream-key-123456789"
    model-mappings: []

# trailing comment about router settings
router_settings:
  routing_strategy: simple-shuffle
"""


def write_config(tmp_path: Path, *, secret: str = '"s3cret-admin"', extra_rm: str = "") -> Path:
    auth = tmp_path / "auth"
    auth.mkdir(mode=0o700, exist_ok=True)
    text = CONFIG.replace("AUTH_DIR", str(auth)).replace("SECRET", secret)
    if extra_rm:
        text = text.replace("    allow-remote: false\n", f"    allow-remote: false\n{extra_rm}")
    path = tmp_path / "litellm.yaml"
    path.write_text(text)
    return path


def make_runtime(config: Path, monkeypatch) -> Runtime:
    for name in ("SUBGATE_AUTH_DIR", "SUBGATE_HOST", "SUBGATE_PORT", "SUBGATE_AMP_UPSTREAM_URL", "MANAGEMENT_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return build_runtime(load_settings(config))


def write_account(rt: Runtime, provider: str, email: str, *, filename: str | None = None, **extra) -> Path:
    data = {"type": provider, "email": email, "access_token": f"at-{email}", "refresh_token": f"rt-{email}",
            "expired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)), **extra}
    path = rt.settings.auth_path / (filename or f"{provider}-{email}.json")
    path.write_text(json.dumps(data))
    rt.store.scan()
    return path
