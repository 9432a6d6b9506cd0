"""A third subscription backend, "parrot", defined by the test suite alone.

It proves the gateway serves any registered Provider without naming it: the YAML lists this module
under `gateway.provider-modules`, gives it a pool (`litellm_credential_name: parrot`) and a
`gateway.parrot:` block, and the gateway's account choice, per-attempt token injection, 401 refresh
and /v1/models work for it as they do for Claude and Codex. Its upstream is tests/third_provider/fake.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import httpx

from custom_providers.errors import RefreshFailed, RefreshTokenRejected
from custom_providers.provider import Provider

ACCOUNT_HEADER = "x-parrot-account"


@dataclass(frozen=True)
class ParrotSettings:
    api_base: str = "https://parrot.invalid/v1"
    token_url: str = "https://parrot.invalid/oauth/token"
    refresh_lead_seconds: int = 600


class ParrotProvider(Provider):
    name = "parrot"
    dialect = "openai"
    label = "Parrot"
    model_family = "Parrot"
    aliases = ("polly",)
    settings_type = ParrotSettings
    settings: ParrotSettings

    async def refresh(self, http: httpx.AsyncClient, refresh_token: str, current: Mapping[str, Any] | None) -> dict[str, Any]:
        try:
            reply = await http.post(self.settings.token_url, json={"grant_type": "refresh_token",
                                                                   "refresh_token": refresh_token})
        except httpx.HTTPError as exc:
            raise RefreshFailed(f"parrot token endpoint unreachable: {type(exc).__name__}") from None
        if reply.status_code == 400:
            raise RefreshTokenRejected(reply.text)
        if reply.status_code != 200:
            raise RefreshFailed(f"parrot token endpoint answered {reply.status_code}")
        data = reply.json()
        return {
            "access_token": data["access_token"],
            "refresh_token": data["refresh_token"],
            "expired": data["expired"],
        }

    def prepare_call(self, kwargs: dict[str, Any], call_type: str, *, token: str, account_id: str,
                     model_info: Mapping[str, Any]) -> None:
        kwargs["api_key"] = token
        kwargs["extra_headers"] = {**(kwargs.get("extra_headers") or {}), ACCOUNT_HEADER: account_id}


PROVIDER = ParrotProvider
