"""Several gateway hosts sharing accounts, refreshes, blocks, usage and logins through one real Redis.

Three gateway processes, each with an auth-dir of its own (three "hosts"; the third runs two uvicorn
workers), and one redis-server started by the tests. Accounts are put into Redis, never into a host's
auth-dir, so anything a host serves it learned through the store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import time
from pathlib import Path
from typing import Any, Callable

import anthropic
import httpx
import openai
import pytest

from gateway.store.redis_store import RedisStore
from tests.e2e.conftest import ClaudeStack, CodexStack, gateway_env
from tests.gateway_process import GatewayProcess
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

MODEL = "claude-sonnet-4-5-20250929"
MSG = [{"role": "user", "content": "hello"}]
MANAGEMENT_KEY = "team-secret"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def redis(tmp_path_factory) -> Any:
    with RedisServer(tmp_path_factory.mktemp("redis"), persist=True) as server:
        yield server


@pytest.fixture(scope="module")
def hosts(redis, claude_stack: ClaudeStack, codex_stack: CodexStack, tmp_path_factory) -> Any:
    """Host A, host B and host C (two workers)."""
    procs = []
    for name, args in (("a", []), ("b", []), ("c", ["--workers", "2"])):
        root = tmp_path_factory.mktemp(f"host-{name}")
        auth = root / "auth"
        auth.mkdir(mode=0o700)
        env = {**gateway_env(claude_stack, codex_stack, auth), "SUBGATE_STORE": redis.url,
               "SUBGATE_USAGE_SAVE_INTERVAL": "0.2", "MANAGEMENT_PASSWORD": MANAGEMENT_KEY,
               "SUBGATE_REFRESH_LEASE_SECONDS": "5",
               # Codex tokens are refreshed when a request needs them, not days ahead in the background.
               "SUBGATE_CODEX_REFRESH_LEAD_SECONDS": "0"}
        procs.append(GatewayProcess(env, log_path=root / "gateway.log", args=args))
    try:
        for proc in procs:  # one after the other: three LiteLLM start-ups at once starve a small machine
            proc.start(timeout=300)
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def in_redis(redis: RedisServer, op: Callable[[RedisStore], Any]) -> Any:
    async def run() -> Any:
        store = RedisStore(redis.url, Path("/nonexistent-auth-dir"))
        try:
            return await op(store)
        finally:
            await store.aclose()

    return asyncio.run(run())


def add_account(redis, stack, provider: str, *, expired: bool = False, expires_in: float | None = None) -> str:
    """A login as `python -m gateway store import` or another host would leave it: only in Redis."""
    email = f"team-{provider}{next(_n)}@example.com"
    if provider == "claude":
        grant = stack.book.issue(email)
        data = {"type": "claude", "email": email, "id_token": ""}
    else:
        grant = stack.book.issue(email, stack.oauth.account_id_for(email))
        data = {"type": "codex", "email": email, "account_id": grant.account_id, "id_token": stack.oauth.id_token(grant)}
    if expired:
        stack.book.expire(grant.access_token)
    expiry = time.time() - 60 if expired else grant.expires_at if expires_in is None else time.time() + expires_in
    data.update({"access_token": grant.access_token, "refresh_token": grant.refresh_token,
                 "expired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))})
    in_redis(redis, lambda s: s.put_credential(f"{provider}-{email}.json", data))
    return email


def remove_accounts(redis) -> None:
    async def op(store: RedisStore) -> None:
        await store.pull()
        for name in list(store.credential_stamps()):
            await store._push(name, None)  # noqa: SLF001 - test cleanup

    in_redis(redis, op)


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, show: Callable[[], Any] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time; last: {show() if show else value!r}")
        time.sleep(0.1)


def serves(host: GatewayProcess, email: str) -> bool:
    reply = httpx.get(host.url + "/v0/management/accounts", headers={"X-Management-Key": MANAGEMENT_KEY})
    return any(a["email"] == email and a["state"] == "ok" for a in reply.json()["accounts"])


def claude_call(url: str) -> Any:
    return anthropic.Anthropic(base_url=url, api_key="k", max_retries=0).messages.create(
        model=MODEL, max_tokens=20, messages=MSG)


def codex_call(url: str) -> Any:
    return openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0).responses.create(model="gpt-5.1", input="x")


def hammer(urls: list[str], n: int, call: Callable[[str], Any]) -> list[Any]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: call(urls[i % len(urls)]), range(n)))


@pytest.fixture
def team(redis, hosts, claude_stack, codex_stack):
    claude_stack.api.clear_modes()
    codex_stack.api.clear_modes()
    yield hosts
    if not redis.ping():  # a test that failed while Redis was down
        redis.start()
    remove_accounts(redis)
    claude_stack.api.clear_modes()
    codex_stack.api.clear_modes()
    for host in hosts:
        wait_for(lambda h=host: not httpx.get(h.url + "/v0/management/accounts",
                                              headers={"X-Management-Key": MANAGEMENT_KEY}).json()["accounts"])


def test_a_refresh_race_across_hosts_spends_each_refresh_token_once(team, redis, claude_stack, codex_stack):
    claude_stack.oauth.recorder.script({"delay": 0.5})
    claude_stack.book.reuse_count = codex_stack.book.reuse_count = 0
    c1, c2 = add_account(redis, claude_stack, "claude", expired=True), add_account(redis, claude_stack, "claude", expired=True)
    x1 = add_account(redis, codex_stack, "codex", expired=True)
    for host in team:
        wait_for(lambda h=host: serves(h, c1) and serves(h, c2) and serves(h, x1))
    urls = [h.url for h in team]
    assert all(r.content for r in hammer(urls, 60, claude_call))
    assert all(r.output_text for r in hammer(urls, 24, codex_call))
    for email in (c1, c2):
        assert claude_stack.book.refreshes_by_email.get(email) == 1
    assert codex_stack.book.refreshes_by_email.get(x1) == 1
    assert claude_stack.book.reuse_count == 0 and codex_stack.book.reuse_count == 0


def test_a_quota_block_learned_by_one_host_is_honoured_by_the_others(team, redis, claude_stack):
    limited, spare = add_account(redis, claude_stack, "claude"), add_account(redis, claude_stack, "claude")
    for host in team:
        wait_for(lambda h=host: serves(h, limited) and serves(h, spare))
    claude_stack.api.set_mode(limited, {"status": 429, "reset_in": 600})
    host_a, host_b, host_c = team
    while claude_stack.api.hits(limited) == 0:  # round-robin reaches it within two requests
        assert claude_call(host_a.url).content  # failed over to the spare account
    hits = claude_stack.api.hits(limited)
    time.sleep(0.5)  # the other hosts' next look at the store (scan interval 0.1 s)
    assert all(r.content for r in hammer([host_b.url, host_c.url], 12, claude_call))
    assert claude_stack.api.hits(limited) == hits  # nobody asked the blocked account again
    view = httpx.get(host_b.url + "/v0/management/accounts", headers={"X-Management-Key": MANAGEMENT_KEY}).json()
    blocked = next(a for a in view["accounts"] if a["email"] == limited)
    assert blocked["state"] == "blocked"


def shared_usage(redis, email: str) -> dict[str, int]:
    totals = in_redis(redis, lambda s: s.usage())
    entry = next((a for a in totals["accounts"].values() if a["email"] == email), None)
    if entry is None:
        return {"requests": 0, "input_tokens": 0, "output_tokens": 0}
    cells = entry["models"].values()
    return {k: sum(c[k] for c in cells) for k in ("requests", "input_tokens", "output_tokens")}


def test_usage_counts_from_every_process_sum_exactly(team, redis, claude_stack):
    email = add_account(redis, claude_stack, "claude")
    for host in team:
        wait_for(lambda h=host: serves(h, email))
    replies = hammer([h.url for h in team], 45, claude_call)  # host C's share lands on both its workers
    assert claude_stack.api.hits(email) == 45  # one upstream call per request: nothing retried
    expected = {"requests": 45, "input_tokens": sum(r.usage.input_tokens for r in replies),
                "output_tokens": sum(r.usage.output_tokens for r in replies)}
    wait_for(lambda: shared_usage(redis, email) == expected, show=lambda: (shared_usage(redis, email), expected))
    # Every host shows the shared totals, not only its own share.
    for host in team:
        def shown(h=host) -> bool:
            accounts = httpx.get(h.url + "/v0/management/accounts", headers={"X-Management-Key": MANAGEMENT_KEY}).json()
            return next(a for a in accounts["accounts"] if a["email"] == email)["usage"]["requests"] == 45
        wait_for(shown, show=lambda h=host: httpx.get(h.url + "/v0/management/accounts",
                                                      headers={"X-Management-Key": MANAGEMENT_KEY}).text[:2000])


def test_a_login_finished_on_one_host_serves_on_the_other(team, claude_stack):
    host_a, host_b, _ = team
    headers = {"X-Management-Key": MANAGEMENT_KEY}
    start = httpx.get(host_a.url + "/v0/management/anthropic-auth-url", headers=headers).json()
    page = httpx.get(start["url"], follow_redirects=False)
    assert page.status_code == 302, page.text
    done = httpx.post(host_b.url + "/v0/management/oauth-callback", headers=headers,
                      json={"provider": "anthropic", "redirect_url": page.headers["location"]})
    assert done.status_code == 200, done.text
    email = done.json()["email"]
    status = httpx.get(host_a.url + f"/v0/management/get-auth-status?state={start['state']}", headers=headers)
    assert status.json() == {"status": "ok"}
    wait_for(lambda: serves(host_a, email))
    before = claude_stack.api.hits(email)
    assert claude_call(host_a.url).content
    assert claude_stack.api.hits(email) == before + 1


def test_redis_stopped_mid_run_and_restarted(team, redis, claude_stack, codex_stack):
    host_a, host_b, host_c = team
    fresh = add_account(redis, claude_stack, "claude")
    # Due for a refresh on its next request (within the 60 s expiry skew), not before in the background.
    stale = add_account(redis, codex_stack, "codex", expires_in=45)
    for host in team:
        wait_for(lambda h=host: serves(h, fresh) and serves(h, stale))
    urls = [h.url for h in team]
    assert all(r.content for r in hammer(urls, 9, claude_call))
    counted = lambda: shared_usage(redis, fresh)["requests"] == claude_stack.api.hits(fresh)  # noqa: E731
    seen = lambda: (shared_usage(redis, fresh), claude_stack.api.hits(fresh))  # noqa: E731
    wait_for(counted, show=seen)

    redis.stop()
    assert all(r.content for r in hammer(urls, 12, claude_call))  # served from memory
    with pytest.raises(openai.APIStatusError) as refused:
        codex_call(host_a.url)  # its token must be refreshed, and no lock can be taken
    assert refused.value.status_code == 503
    assert codex_stack.book.refreshes_by_email.get(stale) is None
    status = wait_for(lambda: httpx.get(host_b.url + "/ui/data.json", headers={"X-Management-Key": MANAGEMENT_KEY}).json()["store"]["degraded"])
    assert "unreachable" in status
    logs = host_a.log_text()
    assert logs.count("store: Redis at") == 1  # said once, not per request

    redis.start()
    def codex_serves() -> bool:
        try:
            return bool(codex_call(host_b.url).output_text)
        except openai.APIStatusError:
            return False

    wait_for(codex_serves, timeout=20)
    assert codex_stack.book.refreshes_by_email.get(stale) == 1
    assert all(r.content for r in hammer(urls, 6, claude_call))
    # Counts resume: the requests served during the outage were counted too, nothing twice.
    assert claude_stack.api.hits(fresh) >= 27
    wait_for(counted, show=seen)
    stored = in_redis(redis, lambda s: s.fetch_credential(f"claude-{fresh}.json"))
    assert stored and stored["email"] == fresh
