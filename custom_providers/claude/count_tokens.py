"""/v1/messages/count_tokens against a Claude subscription.

LiteLLM's count_tokens route skips the deployment hook (so it would send no token, or a stale one it
wrote into the router's deployment dicts) and drops the client's betas and `thinking`. The gateway
answers this route itself: the client's body as sent, the account's Bearer token, the client's betas
plus the oauth beta, and the same identity prepend as message calls.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import httpx

from custom_providers.claude.shaping import OAUTH_BETA, strip_betas, with_identity

DEFAULT_VERSION = "2023-06-01"


def upstream_request(
    body: Mapping[str, Any], client_headers: Mapping[str, str], *, token: str, user_agent: str
) -> tuple[dict[str, str], bytes]:
    betas = [b for b in strip_betas(client_headers.get("anthropic-beta")).split(",") if b]
    for needed in (OAUTH_BETA, "claude-code-20250219"):
        if needed not in betas:
            betas.append(needed)
    headers = {
        "Authorization": f"Bearer {token}",
        "anthropic-version": client_headers.get("anthropic-version") or DEFAULT_VERSION,
        "anthropic-beta": ",".join(betas),
        "content-type": "application/json",
        "accept": "application/json",
        "User-Agent": user_agent,
        "x-app": "cli",
    }
    shaped = dict(body)
    shaped["system"] = with_identity(body.get("system"))
    return headers, json.dumps(shaped).encode()


async def count_tokens(
    http: httpx.AsyncClient,
    api_base: str,
    body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    *,
    token: str,
    user_agent: str,
) -> httpx.Response:
    headers, content = upstream_request(body, client_headers, token=token, user_agent=user_agent)
    url = api_base.rstrip("/") + "/v1/messages/count_tokens?beta=true"
    return await http.post(url, headers=headers, content=content)
