"""Start-up is explicit: importing the gateway changes nothing in LiteLLM, both entry points start
through gateway/startup.py, and a failure there stops the gateway with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import litellm
from litellm.router import Router
stock = (litellm.ChatGPTConfig, litellm.ChatGPTResponsesAPIConfig, litellm.AnthropicMessagesConfig,
         Router._time_to_sleep_before_retry)
import gateway.hook, gateway.server, gateway.asgi, gateway.runtime
after = (litellm.ChatGPTConfig, litellm.ChatGPTResponsesAPIConfig, litellm.AnthropicMessagesConfig,
         Router._time_to_sleep_before_retry)
print("unchanged" if after == stock else "changed")
from gateway import hook
hook.proxy_hook  # what LiteLLM's proxy resolves from litellm_settings.callbacks
started = (litellm.ChatGPTConfig, litellm.ChatGPTResponsesAPIConfig, litellm.AnthropicMessagesConfig,
           Router._time_to_sleep_before_retry)
print("installed" if all(a is not b for a, b in zip(started, stock)) else "not installed")
"""

BROKEN = """
model_list: []
litellm_settings:
  callbacks: gateway.hook.proxy_hook
gateway:
  auth-dir: {auth}
  provider-modules: [tests.startup.broken_provider]
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    import os

    auth = tmp_path / "auth"
    auth.mkdir(mode=0o700, exist_ok=True)
    return {**os.environ, "HOME": str(tmp_path), "SUBGATE_AUTH_DIR": str(auth), **extra}


def test_importing_changes_nothing_until_litellm_resolves_the_hook(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["unchanged", "installed"]


def test_a_provider_that_cannot_install_itself_stops_start_up_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "litellm.yaml"
    config.write_text(BROKEN.format(auth=tmp_path / "auth"))
    env = _env(tmp_path, SUBGATE_CONFIG=str(config), SUBGATE_PORT=str(free_port()))
    out = subprocess.run([sys.executable, "-m", "gateway.amp"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 2
    assert "subgate: the broken provider could not install itself into LiteLLM" in out.stderr
    assert "SomethingThisProviderNeeds" in out.stderr
    assert "Traceback" not in out.stderr
