"""Two gateway processes (and a two-worker gateway) sharing one auth-dir: each refresh token is spent once."""

from __future__ import annotations

import concurrent.futures

import anthropic
import openai
import pytest

from tests.e2e.conftest import gateway_env
from tests.gateway_process import GatewayProcess

MODEL = "claude-sonnet-4-5-20250929"


@pytest.fixture(scope="module")
def second_gateway(claude_stack, codex_stack, auth_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("second") / "gw.log"
    with GatewayProcess(gateway_env(claude_stack, codex_stack, auth_dir), log_path=log) as gw:
        yield gw


@pytest.fixture(scope="module")
def two_workers(claude_stack, codex_stack, auth_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("workers") / "gw.log"
    with GatewayProcess(gateway_env(claude_stack, codex_stack, auth_dir), log_path=log, args=["--workers", "2"]) as gw:
        yield gw


def _hammer(urls: list[str], n: int, call) -> list:
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        return list(pool.map(lambda i: call(urls[i % len(urls)]), range(n)))


def test_two_processes_refresh_each_account_once(gateway, second_gateway, accounts, claude_stack, codex_stack):
    claude_stack.oauth.recorder.script({"delay": 0.5})
    claude_stack.book.reuse_count = codex_stack.book.reuse_count = 0
    c1, c2 = accounts.add("claude", expired=True, wait=False), accounts.add("claude", expired=True, wait=False)
    x1 = accounts.add("codex", expired=True)

    def claude_call(url):
        return anthropic.Anthropic(base_url=url, api_key="k", max_retries=0).messages.create(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}])

    def codex_call(url):
        return openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0).responses.create(model="gpt-5.1", input="x")

    urls = [gateway.url, second_gateway.url]
    assert all(r.content for r in _hammer(urls, 50, claude_call))
    assert all(r.output_text for r in _hammer(urls, 20, codex_call))
    for acct in (c1, c2):
        assert claude_stack.book.refreshes_by_email.get(acct.email) == 1
    assert codex_stack.book.refreshes_by_email.get(x1.email) == 1
    assert claude_stack.book.reuse_count == 0 and codex_stack.book.reuse_count == 0


def test_two_workers_serve_and_share_refresh(two_workers, accounts, claude_stack):
    claude_stack.oauth.recorder.script({"delay": 0.5})
    acct = accounts.add("claude", expired=True)

    def call(url):
        return anthropic.Anthropic(base_url=url, api_key="k", max_retries=0).messages.create(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}])

    assert all(r.content for r in _hammer([two_workers.url], 40, call))
    assert claude_stack.book.refreshes_by_email.get(acct.email) == 1
    assert claude_stack.book.reuse_count == 0
