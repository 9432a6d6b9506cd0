"""What demo mode prints before serving: where things are, and lines to paste into a terminal.

The commands are the ones the e2e tests run each client with, so they work as printed.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from gateway.demo.accounts import CLAUDE_EMAILS, CODEX_EMAILS

CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
GPT_MODEL = "gpt-5.1-codex"
KEY = "dummy-not-used"


def banner(gateway_url: str, upstreams_url: str, auth_dir: Path) -> str:
    python = shlex.quote(sys.executable)
    port = gateway_url.rsplit(":", 1)[1]
    messages = ('{"model": "%s", "max_tokens": 256, "stream": true, '
                '"messages": [{"role": "user", "content": "hello"}]}' % CLAUDE_MODEL)
    responses = '{"model": "%s", "input": "hello"}' % GPT_MODEL
    return f"""
subgate DEMO MODE: built-in stand-ins for Anthropic and ChatGPT; no real account, nothing reaches the vendors.

  Gateway    {gateway_url}    (status page: {gateway_url}/ui)
  Fakes      {upstreams_url}  (Anthropic API + OAuth, ChatGPT Codex backend + OAuth)
  Accounts   {', '.join(CLAUDE_EMAILS)}
             {', '.join(CODEX_EMAILS)}
             in the temporary auth-dir {auth_dir} (removed when the gateway stops)
  Amp        its management routes need ampcode.com, which demo mode never contacts: they answer 503

Try it (any API key works; requests rotate over the two accounts of each vendor):

  curl -N {gateway_url}/v1/messages -H 'x-api-key: {KEY}' -H 'anthropic-version: 2023-06-01' \\
    -H 'content-type: application/json' -d '{messages}'

  curl {gateway_url}/v1/responses -H 'authorization: Bearer {KEY}' -H 'content-type: application/json' \\
    -d '{responses}'

  Claude Code:  ANTHROPIC_BASE_URL={gateway_url} ANTHROPIC_API_KEY={KEY} claude

  Codex CLI:    add to ~/.codex/config.toml
                  [model_providers.subgate]
                  name = "subgate"
                  base_url = "{gateway_url}/v1"
                  wire_api = "responses"
                  env_key = "SUBGATE_KEY"
                then: SUBGATE_KEY={KEY} codex -c model_provider=subgate -m {GPT_MODEL}

  droid:        {python} -m gateway factory-config --port {port}   (adds "[Proxy]" models to ~/.factory/config.json)
                droid exec -m custom:{CLAUDE_MODEL} "say hi"

The fakes answer deterministically. Claude models call the first tool offered, then quote its result;
without tools they echo you. GPT models stream "Hello from the fake Codex backend." with a reasoning summary.
Stop with Ctrl-C. Real accounts: `{python} -m gateway login claude` / `login codex`, then start without --demo.
"""
