"""A provider registered from the test suite alone is served like the built-in ones.

Nothing under gateway/ names "parrot": the YAML lists tests.third_provider.provider under
gateway.provider-modules, and the real gateway process (`python -m gateway.amp`) picks its accounts,
injects their tokens per attempt, refreshes a refused token and lists its models.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.fakes.tokens import TokenBook
from tests.gateway_process import GatewayProcess
from tests.servers import ServerThread
from tests.third_provider.fake import ParrotFake

ROOT = Path(__file__).resolve().parents[2]
SCAN_INTERVAL = 0.1

CONFIG = """
model_list:
  - model_name: parrot-1
    litellm_params: {{model: openai/parrot-1, litellm_credential_name: parrot}}
litellm_settings:
  callbacks: gateway.hook.proxy_hook
  drop_params: true
router_settings:
  routing_strategy: simple-shuffle
  allowed_fails_policy: {{AuthenticationErrorAllowedFails: 1000000}}
general_settings:
  dangerously_permit_weak_or_unset_master_key: true
gateway:
  auth-dir: {auth}
  provider-modules: [tests.third_provider.provider]
  parrot:
    api-base: {url}/v1
    token-url: {url}/oauth/token
"""


class Stack:
    def __init__(self, fake: ParrotFake, gateway: GatewayProcess, auth: Path) -> None:
        self.fake, self.gateway, self.auth = fake, gateway, auth

    def add_account(self, email: str) -> dict:
        grant = self.fake.book.issue(email)
        data = {
            "type": "parrot", "email": email, "account_id": grant.account_id,
            "access_token": grant.access_token, "refresh_token": grant.refresh_token,
            "expired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(grant.expires_at)),
        }
        path = self.auth / f"parrot-{email}.json"
        path.write_text(json.dumps(data))
        path.chmod(0o600)
        time.sleep(SCAN_INTERVAL * 4)
        return data


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("parrot")
    auth = base / "auth"
    auth.mkdir(mode=0o700)
    fake = ParrotFake(TokenBook(access_prefix="parrot-at-", refresh_prefix="parrot-rt-"))
    with ServerThread(fake.app) as upstream:
        config = base / "litellm.yaml"
        config.write_text(CONFIG.format(auth=auth, url=upstream.url))
        env = {"SUBGATE_SCAN_INTERVAL": str(SCAN_INTERVAL), "HOME": str(base), "SUBGATE_AUTH_DIR": str(auth)}
        with GatewayProcess(env, log_path=base / "gateway.log", config=config) as gw:
            yield Stack(fake, gw, auth)


def chat(stack: Stack, text: str) -> httpx.Response:
    return httpx.post(stack.gateway.url + "/v1/chat/completions", timeout=30,
                      json={"model": "parrot-1", "messages": [{"role": "user", "content": text}]})


def test_gateway_sources_never_name_the_third_provider() -> None:
    named = [p for p in (ROOT / "gateway").rglob("*.py") if "parrot" in p.read_text(encoding="utf-8").lower()]
    assert named == []


def test_chat_completion_is_served_with_the_accounts_token(stack: Stack) -> None:
    stack.add_account("polly@example.com")
    reply = chat(stack, "hello")
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "parrot says: hello"
    assert stack.fake.requests[-1]["email"] == "polly@example.com"


def test_models_lists_the_pool_with_its_dialect_as_owner(stack: Stack) -> None:
    stack.add_account("list@example.com")
    models = httpx.get(stack.gateway.url + "/v1/models", timeout=10).json()
    assert {"id": "parrot-1", "owned_by": "openai"}.items() <= next(
        m for m in models["data"] if m["id"] == "parrot-1").items()


def test_a_refused_token_is_refreshed_through_the_provider(stack: Stack) -> None:
    data = stack.add_account("stale@example.com")
    for other in stack.auth.glob("parrot-*.json"):
        if other.name != "parrot-stale@example.com.json":
            other.unlink()
    time.sleep(SCAN_INTERVAL * 4)
    stack.fake.book.expire(data["access_token"])
    reply = chat(stack, "again")
    assert reply.status_code == 200, reply.text
    assert stack.fake.requests[-1]["email"] == "stale@example.com"
    saved = json.loads((stack.auth / "parrot-stale@example.com.json").read_text())
    assert saved["access_token"] != data["access_token"]
    assert stack.fake.book.refreshes_by_email == {"stale@example.com": 1}
