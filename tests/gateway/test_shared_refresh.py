"""Refreshes across hosts sharing one Redis: each refresh token is spent once, a dead holder's lease
lapses, and no refresh happens while the lock cannot be taken (Redis down)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from custom_providers.errors import RefreshFailed
from gateway.store import open_store, redis_store
from gateway.token_store import TokenStore
from tests.fakes.tokens import TokenBook
from tests.gateway.token_processes import (REPO, RotatingTokenServer, _child_env, expired_login, rotating_refresher,
                                           run_token_race)
from tests.servers import ServerThread

NAME = "claude-alice@example.com.json"

HOLDER = r"""
import asyncio, os, sys
from pathlib import Path

from gateway.store import open_store


async def main():
    store = open_store(os.environ["SUBGATE_STORE"], Path(sys.argv[1]))
    async with store.refresh_lock(sys.argv[2]):
        print("locked", flush=True)
        await asyncio.sleep(3600)  # a host stuck mid-refresh, about to be killed


asyncio.run(main())
"""


def token_store(http: httpx.AsyncClient, url: str, backend) -> TokenStore:
    return TokenStore(auth_dir=backend.auth_dir, refreshers={"claude": rotating_refresher(http, url)}, backend=backend)


def test_three_hosts_on_one_redis_spend_the_refresh_token_once(redis_server, tmp_path: Path) -> None:
    result = run_token_race(tmp_path, processes=3, callers=20, store_url=redis_server.url)
    assert result.refresh_calls == 1
    assert result.reuses == 0
    assert len(result.tokens) == 1  # all 60 callers on three hosts got the same fresh token
    assert result.stored["refresh_token"] == result.final_refresh_token
    assert not (tmp_path / "host1" / NAME).exists()  # the credential lives in Redis, not in a host's auth-dir


async def test_kill_9_of_the_lock_holder_frees_the_account_after_one_lease(redis_server, tmp_path, monkeypatch):
    lease = 1.0
    monkeypatch.setattr(redis_store, "LEASE_SECONDS", lease)
    book = TokenBook()
    server = RotatingTokenServer(book, delay=0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    backend = open_store(redis_server.url, tmp_path / "b")
    await backend.put_credential(NAME, expired_login(book))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "a"), NAME], cwd=REPO,
                              env=_child_env(redis_server.url, SUBGATE_REFRESH_LEASE_SECONDS=str(lease)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked", holder.stderr.read()
        with ServerThread(server.app()) as srv:
            async with httpx.AsyncClient(trust_env=False) as http:
                store = token_store(http, srv.url + "/token", backend)
                store.scan()
                acct = store.accounts()[0]
                waiting = asyncio.gather(*(store.token(acct) for _ in range(10)))
                await asyncio.sleep(lease * 2)  # the holder is alive: it keeps its lease, nobody refreshes
                assert book.refresh_calls == 0
                holder.kill()
                killed = time.monotonic()
                tokens = await asyncio.wait_for(waiting, 10)
                waited = time.monotonic() - killed
    finally:
        holder.kill()
        holder.wait()
    assert waited < lease + 1.5
    assert len(set(tokens)) == 1
    assert book.refresh_calls == 1 and book.reuse_count == 0
    assert (await backend.fetch_credential(NAME))["refresh_token"] == server.issued[-1]
    await backend.aclose()


async def test_no_refresh_while_redis_is_down_and_one_when_it_is_back(redis_server, tmp_path):
    book = TokenBook()
    server = RotatingTokenServer(book, delay=0)
    backend = open_store(redis_server.url, tmp_path)
    await backend.put_credential(NAME, expired_login(book))
    with ServerThread(server.app()) as srv:
        async with httpx.AsyncClient(trust_env=False) as http:
            store = token_store(http, srv.url + "/token", backend)
            store.scan()
            acct = store.accounts()[0]
            redis_server.stop()
            with pytest.raises(RefreshFailed, match="cannot be refreshed safely"):
                await store.token(acct)
            assert book.refresh_calls == 0  # never refreshed without the lock
            assert acct.usable  # not marked needs-login: it only waits for Redis
            redis_server.start()
            await backend.pull()
            token = await store.token(acct)
    assert book.refresh_calls == 1 and token == acct.access_token
    assert (await backend.fetch_credential(NAME))["access_token"] == token
    await backend.aclose()
