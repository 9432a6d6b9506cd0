"""`python -m gateway.amp` serves the model routes without LiteLLM's proxy server (gateway/model_routes.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.gateway_process import ROOT

PROBE = """
import sys
from gateway.server import create_app
app = create_app()
from gateway import litellm_app
assert litellm_app.router() is not None, "no Router"
print("proxy_server" if "litellm.proxy.proxy_server" in sys.modules else "lean")
"""


def test_the_gateway_app_is_built_without_importing_the_proxy_server(tmp_path):
    auth = tmp_path / "auth"
    auth.mkdir(mode=0o700)
    env = {**os.environ, "SUBGATE_AUTH_DIR": str(auth), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "lean"
