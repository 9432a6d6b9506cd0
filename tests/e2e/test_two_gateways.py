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


def test_two_workers_log_every_request_and_report_the_whole_gateway(two_workers, accounts):
    import re
    import time

    import httpx

    acct = accounts.add("claude")
    before = len(two_workers.log_text())
    n = 24
    replies = _hammer([two_workers.url], n, lambda url: httpx.post(url + "/v1/messages", timeout=60, json={
        "model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
    assert all(r.status_code == 200 for r in replies)
    pattern = re.compile(rf"subgate\.access: \S+ POST /v1/messages status=200 model={MODEL} account={re.escape(acct.email)}")
    deadline = time.monotonic() + 30  # access lines wait a moment for the usage report
    while len(pattern.findall(two_workers.log_text()[before:])) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(pattern.findall(two_workers.log_text()[before:])) == n  # one line per request, from both workers

    sample = re.compile(rf'subgate_requests_total{{provider="claude",model="{MODEL}",account="{re.escape(acct.email)}",'
                        r'status="ok"} (\d+)')
    deadline = time.monotonic() + 30  # each worker saves its share every few seconds
    seen: list[int] = []
    while time.monotonic() < deadline:
        scrapes = [httpx.get(two_workers.url + "/metrics").text for _ in range(4)]  # answered by either worker
        seen = [int(m.group(1)) if (m := sample.search(text)) else 0 for text in scrapes]
        if seen == [n] * 4:
            break
        time.sleep(0.5)
    assert seen == [n] * 4
