"""Who may read the clients' usage screens: loopback callers without a client key, others with one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from custom_providers.registry import registry
from gateway.usage_screens import UsageScreens


class Pool:
    """The runtime's face the usage screens read: one provider set, no accounts yet."""

    providers = list(registry.configure({}))

    def ensure_started(self) -> None:
        pass

    def refresh_accounts(self) -> None:
        pass

    def usable_accounts(self, provider: str) -> list[Any]:
        return []


async def passed_on(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def client(peer: str) -> httpx.AsyncClient:
    app = UsageScreens(passed_on, Pool(), lambda: ("k",))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 5555)), base_url="http://gw")


CODEX_CLI = {"authorization": "Bearer the-cli-own-chatgpt-token", "chatgpt-account-id": "acct-1"}


@pytest.mark.parametrize("path", ["/backend-api/wham/usage", "/backend-api/wham/accounts/check"])
async def test_loopback_callers_need_no_client_key_others_do(path: str) -> None:
    async with client("127.0.0.1") as local:
        assert (await local.get(path, headers=CODEX_CLI)).status_code == 200
    async with client("10.0.0.7") as remote:
        refused = await remote.get(path, headers=CODEX_CLI)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        assert (await remote.get(path, headers={"authorization": "Bearer k"})).status_code == 200
    async with client("10.0.0.7") as remote:  # other paths are not this layer's business
        assert (await remote.get("/v1/models")).status_code == 204
