"""The requests the benchmark sends: each gateway endpoint and the upstream call it stands for.

A direct call carries what the gateway would send upstream (the account's Bearer token, the OAuth beta,
the Claude Code identity block, the Codex account id), so the fake does the same work on both sides.
The gateway call carries the same body with a dummy client key. The Codex backend only streams, so the
baseline of a non-streaming /v1/responses or GPT chat call is reading the upstream stream to its end.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import Call

CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
GPT_MODEL = "gpt-5.1"
IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."
INSTRUCTIONS = "You are a helpful assistant."
PROMPT = "ping"


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Endpoints:
    fake: str
    gateway: str
    claude_token: str
    codex_token: str
    codex_account: str

    # -- upstream (direct to fake) -------------------------------------------------------------------

    def anthropic_direct(self, stream: bool, max_tokens: int = 64) -> Call:
        headers = {"authorization": f"Bearer {self.claude_token}", "anthropic-version": "2023-06-01",
                   "anthropic-beta": "oauth-2025-04-20", "content-type": "application/json"}
        return Call(self.fake + "/v1/messages", headers, _json(self.messages_body(stream, max_tokens)), stream)

    def codex_direct(self, stream: bool) -> Call:
        headers = {"authorization": f"Bearer {self.codex_token}", "chatgpt-account-id": self.codex_account,
                   "content-type": "application/json", "accept": "text/event-stream"}
        body = {"model": GPT_MODEL, "instructions": INSTRUCTIONS, "stream": True, "store": False,
                "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": PROMPT}]}]}
        return Call(self.fake + "/backend-api/codex/responses", headers, _json(body), stream)

    # -- through the gateway -------------------------------------------------------------------------

    @staticmethod
    def messages_body(stream: bool, max_tokens: int = 64) -> dict[str, Any]:
        return {"model": CLAUDE_MODEL, "max_tokens": max_tokens, "stream": stream,
                "system": [{"type": "text", "text": IDENTITY}],
                "messages": [{"role": "user", "content": PROMPT}]}

    def messages(self, stream: bool, max_tokens: int = 64) -> Call:
        headers = {"x-api-key": "dummy-not-used", "anthropic-version": "2023-06-01",
                   "content-type": "application/json"}
        return Call(self.gateway + "/v1/messages", headers, _json(self.messages_body(stream, max_tokens)), stream)

    def _openai_headers(self) -> dict[str, str]:
        return {"authorization": "Bearer dummy-not-used", "content-type": "application/json"}

    def chat(self, model: str, stream: bool, max_tokens: int = 64) -> Call:
        body: dict[str, Any] = {"model": model, "stream": stream,
                                "messages": [{"role": "system", "content": IDENTITY if model == CLAUDE_MODEL
                                              else INSTRUCTIONS}, {"role": "user", "content": PROMPT}]}
        if model == CLAUDE_MODEL:
            body["max_tokens"] = max_tokens
        return Call(self.gateway + "/v1/chat/completions", self._openai_headers(), _json(body), stream)

    def responses(self, stream: bool) -> Call:
        body = {"model": GPT_MODEL, "instructions": INSTRUCTIONS, "input": PROMPT, "stream": stream}
        return Call(self.gateway + "/v1/responses", self._openai_headers(), _json(body), stream)


def credential_files(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Account files as `python -m gateway login` writes them (CLIProxyAPI names and keys)."""

    def stamp(t: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    c, x = info["claude"], info["codex"]
    now = stamp(time.time())
    return {
        f"claude-{c['email']}.json": {"type": "claude", "email": c["email"], "access_token": c["access_token"],
                                      "refresh_token": c["refresh_token"], "expired": stamp(c["expires_at"]),
                                      "last_refresh": now, "id_token": ""},
        f"codex-{x['email']}.json": {"type": "codex", "email": x["email"], "account_id": x["account_id"],
                                     "id_token": x["id_token"], "access_token": x["access_token"],
                                     "refresh_token": x["refresh_token"], "expired": stamp(x["expires_at"]),
                                     "last_refresh": now},
    }


def gateway_env(fakes_url: str, info: dict[str, Any], tmp: Path) -> dict[str, str]:
    """Environment for a gateway that serves the fakes' two accounts from `tmp/auth`, with every
    upstream, token and login URL pointed at the fakes (the OAuth ones at a 404), so nothing can
    leave the machine."""
    auth = tmp / "auth"
    auth.mkdir(mode=0o700, exist_ok=True)
    for name, data in credential_files(info).items():
        path = auth / name
        path.write_text(json.dumps(data))
        path.chmod(0o600)
    nowhere = fakes_url + "/oauth/none"
    return {
        "SUBGATE_AUTH_DIR": str(auth), "HOME": str(tmp),
        "SUBGATE_CLAUDE_API_BASE": fakes_url, "SUBGATE_CODEX_API_BASE": fakes_url + "/backend-api/codex",
        "SUBGATE_CLAUDE_TOKEN_URL": nowhere, "SUBGATE_CLAUDE_AUTHORIZE_URL": nowhere, "SUBGATE_CLAUDE_PROFILE_URL": nowhere,
        "SUBGATE_CODEX_TOKEN_URL": nowhere, "SUBGATE_CODEX_AUTHORIZE_URL": nowhere,
        "SUBGATE_AMP_UPSTREAM_URL": "", "AMP_API_KEY": "",
    }
