"""The storage seam (gateway/store/): the same behaviour from auth-dir files and from a real Redis.

Every test gets two Store objects on the same backing (two workers on one auth-dir, or two hosts on
one Redis, each with its own auth-dir) and checks that what one writes the other sees.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from gateway.store import StoreUnavailable, open_store
from gateway.store import redis_scripts, redis_store
from gateway.store.files import FileStore

CRED = {"type": "claude", "email": "alice@example.com", "access_token": "at-1", "refresh_token": "rt-1",
        "expired": "2030-01-01T00:00:00Z", "unknown_key": {"kept": True}}
NAME = "claude-alice@example.com.json"


@pytest.fixture(params=["files", "redis"])
def pair(request, tmp_path):
    """Two stores sharing one backing."""
    if request.param == "files":
        (tmp_path / "auth").mkdir(mode=0o700)
        yield FileStore(tmp_path / "auth"), FileStore(tmp_path / "auth")
        return
    server = request.getfixturevalue("redis_server")
    yield open_store(server.url, tmp_path / "host-a"), open_store(server.url, tmp_path / "host-b")


async def test_a_credential_written_by_one_is_read_by_the_other(pair):
    one, two = pair
    one.put_credential_soon(NAME, CRED)
    await asyncio.sleep(0.05)  # the Redis store pushes in the background
    await two.pull()
    assert two.read_credential(NAME) == CRED
    assert NAME in two.credential_stamps()
    updated = {**CRED, "refresh_token": "rt-2"}
    await one.put_credential(NAME, updated)
    assert await two.fetch_credential(NAME) == updated
    one.delete_credential_soon(NAME)
    await asyncio.sleep(0.05)
    await two.pull()
    assert two.read_credential(NAME) is None and NAME not in two.credential_stamps()


async def test_the_refresh_lock_admits_one_holder_at_a_time(pair):
    one, two = pair
    order: list[str] = []

    async def hold(store, tag):
        async with store.refresh_lock(NAME, timeout=10):
            order.append(f"{tag} in")
            await asyncio.sleep(0.2)
            order.append(f"{tag} out")

    await asyncio.gather(hold(one, "a"), hold(two, "b"))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


async def test_blocks_are_shared_only_move_later_and_clear(pair):
    one, two = pair
    until = time.time() + 600
    await one.put_block("acct1", until)
    await two.put_block("acct1", until - 300)  # an older reset never shortens a block
    assert (await two.blocks())["acct1"] == pytest.approx(until)
    await two.put_block("acct2", time.time() - 1)
    assert "acct2" not in await one.blocks()
    await two.put_block("acct1", None)
    assert await one.blocks() == {}


async def test_snapshots_keep_the_newest_reading_per_key(pair):
    one, two = pair
    await one.put_snapshots("usage", {"a": {"taken_at": 200.0, "used": 50}, "b": {"taken_at": 1.0, "used": 1}})
    await two.put_snapshots("usage", {"a": {"taken_at": 100.0, "used": 10}})  # older: ignored
    await two.put_snapshots("usage", {"b": {"taken_at": 2.0, "used": 2}})
    assert await one.snapshots("usage") == {"a": {"taken_at": 200.0, "used": 50}, "b": {"taken_at": 2.0, "used": 2}}
    assert await one.snapshots("other") == {}


def _delta(requests: int, tokens: int, error: str | None = None) -> dict:
    cell = {"requests": requests, "input_tokens": tokens, "output_tokens": 1, "errors": {error: 1} if error else {}}
    hour = int(time.time() // 3600) * 3600
    return {"accounts": {"acct1": {"email": "alice@example.com", "provider": "claude", "models": {"m": cell}}},
            "hours": [[hour, requests, tokens + 1, 1 if error else 0]],
            "recent_errors": [{"kind": error, "message": "x"}] if error else []}


async def test_usage_increments_from_both_add_up(pair):
    one, two = pair
    await asyncio.gather(*(store.add_usage(_delta(1, 10)) for store in (one, two) for _ in range(10)))
    totals = await two.add_usage(_delta(2, 5, "server_error"))
    cell = totals["accounts"]["acct1"]["models"]["m"]
    assert (cell["requests"], cell["input_tokens"], cell["output_tokens"]) == (22, 205, 21)
    assert cell["errors"] == {"server_error": 1}
    assert totals["accounts"]["acct1"]["email"] == "alice@example.com"
    assert totals["hours"][-1][1:] == [22, 226, 1]
    assert await one.usage() == totals


async def test_a_login_session_started_on_one_is_found_on_the_other(pair):
    one, two = pair
    await one.put_session("state-1", {"provider": "claude", "verifier": "v"}, ttl=60)
    assert await two.get_session("state-1") == {"provider": "claude", "verifier": "v"}
    assert await two.delete_session("state-1")
    assert await one.get_session("state-1") is None
    await one.put_session("short", {"provider": "codex"}, ttl=0.2)
    await asyncio.sleep(0.4)
    assert await two.get_session("short") is None


async def test_health_names_the_store(pair):
    health = await pair[0].health()
    assert health.reachable and health.latency_ms is not None
    if health.kind == "redis":
        assert health.version.count(".") == 2


# ---- Redis only: leases and outages ----------------------------------------------------------------


async def test_a_lease_nobody_renews_lapses(redis_server, tmp_path, monkeypatch):
    """The holder's process died (no keep-alive): the next host gets the lock after one lease."""
    monkeypatch.setattr(redis_store, "LEASE_SECONDS", 0.5)
    one, two = open_store(redis_server.url, tmp_path / "a"), open_store(redis_server.url, tmp_path / "b")
    redis_server.command("SET", f"subgate:lock:{NAME}", "dead-holder", "PX", "500")
    t0 = time.monotonic()
    async with two.refresh_lock(NAME, timeout=5):
        waited = time.monotonic() - t0
    assert 0.3 < waited < 2.0
    # A live holder keeps its lease beyond the lease length.
    async with one.refresh_lock(NAME, timeout=5):
        await asyncio.sleep(1.2)
        with pytest.raises(StoreUnavailable, match="stayed taken"):
            async with two.refresh_lock(NAME, timeout=0.3):
                pass


async def test_redis_down_spools_writes_refuses_the_lock_and_catches_up(redis_server, tmp_path, caplog):
    one, two = open_store(redis_server.url, tmp_path / "a"), open_store(redis_server.url, tmp_path / "b")
    await one.put_credential(NAME, CRED)
    assert await two.fetch_credential(NAME) == CRED
    redis_server.stop()
    caplog.set_level(logging.WARNING, logger="subgate.store")
    updated = {**CRED, "refresh_token": "rt-2"}
    await one.put_credential(NAME, updated)  # e.g. a refresh that finished as Redis went away
    one.put_credential_soon("codex-bob@example.com.json", {"type": "codex", "email": "bob@example.com"})
    await asyncio.sleep(0.05)
    with pytest.raises(StoreUnavailable):
        async with one.refresh_lock(NAME, timeout=1):
            pass
    assert "unreachable" in one.degraded
    assert not await one.pull()  # nothing to take in; no exception either
    downs = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(downs) == 1 and "rt-2" not in caplog.text
    spooled = json.loads((tmp_path / "a" / ".store-pending" / NAME).read_text())
    assert spooled["data"]["refresh_token"] == "rt-2"
    assert (tmp_path / "a" / ".store-pending" / NAME).stat().st_mode & 0o777 == 0o600
    assert one.read_credential(NAME) == updated  # still served from memory

    # A restart of the gateway while Redis is down loses nothing either: the spool is read back.
    restarted = open_store(redis_server.url, tmp_path / "a")
    assert restarted.read_credential(NAME) == updated

    redis_server.start()
    await restarted.pull()
    assert one.degraded and not restarted.degraded
    await one.pull()
    assert not one.degraded
    assert not list((tmp_path / "a" / ".store-pending").glob("*.json"))
    await two.pull()
    assert two.read_credential(NAME) == updated
    assert two.read_credential("codex-bob@example.com.json") == {"type": "codex", "email": "bob@example.com"}
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_a_redis_url_and_router_settings_select_the_redis_store():
    from gateway.config import store_url

    env = {"REDIS_HOST": "10.0.0.5", "REDIS_PASSWORD": "p@ss"}
    assert store_url("", None, env) == ""
    assert store_url("redis://h:1/2", {"redis_host": "x"}, env) == "redis://h:1/2"
    rs = {"redis_host": "os.environ/REDIS_HOST", "redis_port": 6380, "redis_password": "os.environ/REDIS_PASSWORD"}
    assert store_url("", rs, env) == "redis://:p%40ss@10.0.0.5:6380/0"
    assert redis_scripts.redacted("redis://:p%40ss@10.0.0.5:6380/0") == "redis://:***@10.0.0.5:6380/0"
    from gateway.config import ConfigError

    with pytest.raises(ConfigError, match="redis://"):
        store_url("postgres://x", None, env)


async def test_store_import_moves_an_auth_dir_into_redis_and_export_gives_it_back(redis_server, tmp_path):
    from gateway.store.transfer import export_dir, import_dir

    old = tmp_path / "old-auth"
    old.mkdir()
    (old / NAME).write_text(json.dumps(CRED))
    (old / "codex-bob@example.com.json").write_text(json.dumps({"type": "codex", "email": "bob@example.com",
                                                                "refresh_token": "rt-b"}))
    (old / "notes.json").write_text("[1, 2]")  # not a credential: left alone
    book = {"accounts": {"acct1": {"email": "alice@example.com", "provider": "claude",
                                   "models": {"m": {"requests": 7, "input_tokens": 70}}}}}
    (old / ".usage-stats.json").write_text(json.dumps(book))
    store = open_store(redis_server.url, tmp_path / "host")
    newer = {**CRED, "refresh_token": "rt-newer-from-a-host"}
    await store.put_credential(NAME, newer)
    imported, kept = await import_dir(old, store)
    assert imported == ["codex-bob@example.com.json"] and kept == [NAME]
    assert (await store.fetch_credential(NAME))["refresh_token"] == "rt-newer-from-a-host"  # never older
    await import_dir(old, store)  # twice: usage counted once
    assert (await store.usage())["accounts"]["acct1"]["models"]["m"]["requests"] == 7
    imported, _ = await import_dir(old, store, replace=True)
    assert NAME in imported and (await store.fetch_credential(NAME)) == CRED

    out = tmp_path / "exported"
    assert sorted(await export_dir(store, out)) == sorted([NAME, "codex-bob@example.com.json"])
    assert json.loads((out / NAME).read_text()) == CRED  # CLIProxyAPI's file, unknown keys included
    assert (out / NAME).stat().st_mode & 0o777 == 0o600
    await store.aclose()


def test_a_broken_file_is_reported_by_one_process_of_a_run_once_per_change(tmp_path):
    first, second = FileStore(tmp_path), FileStore(tmp_path)  # two workers of one gateway
    assert first.first_to_report("claude-x.json", 1, "run-a") is True
    assert second.first_to_report("claude-x.json", 1, "run-a") is False
    assert first.first_to_report("claude-x.json", 1, "run-a") is False
    assert second.first_to_report("claude-y.json", 1, "run-a") is True  # another file
    assert second.first_to_report("claude-x.json", 2, "run-a") is True  # the file changed
    assert first.first_to_report("claude-x.json", 2, "run-a") is False
    assert first.first_to_report("claude-x.json", 2, "run-b") is True  # the next start says it again
