"""Redis as the shared store, so several gateway hosts share accounts, refreshes, blocks and usage.

Every key starts with `subgate:` in the database named by the URL. Credentials live in one hash
(file name -> CLIProxyAPI JSON) with a generation counter the other hosts poll; the refresh lock is
`SET NX PX` with a random token, kept alive while its holder works and released by compare-and-delete,
so a host killed mid-refresh frees the account after one lease. Usage counters are HINCRBY (atomic,
nothing read-modify-written), blocks keep the latest reset, snapshots keep the newest `taken_at`.

When Redis cannot be reached the gateway serves from what it holds: credential writes (logins, a
token refreshed just before Redis went away) go to a spool in auth-dir (`.store-pending/`, mode 0600)
and are pushed when Redis answers again; nothing is refreshed without the lock (StoreUnavailable).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.store import redis_scripts as scripts
from gateway.store import usage_counters
from gateway.store.base import DEFAULT_LEASE_SECONDS, Store, StoreHealth, StoreUnavailable
from gateway.store.spool import SPOOL_DIR, CredentialSpool

log = logging.getLogger("subgate.store")

T = TypeVar("T")
PREFIX = "subgate:"
LEASE_SECONDS = float(os.environ.get("SUBGATE_REFRESH_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))
LOCK_POLL_SECONDS = 0.05

def _stamp(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _client(url: str) -> aioredis.Redis:
    # Fail fast: a request must not hang on a Redis that went away; the caller falls back to memory.
    return aioredis.from_url(url, decode_responses=True, socket_connect_timeout=1.0, socket_timeout=2.0,
                             retry=Retry(NoBackoff(), 0), retry_on_timeout=False)


class RedisStore(Store):
    kind = "redis"

    def __init__(self, url: str, auth_dir: Path) -> None:
        self.url = url
        self._where = scripts.redacted(url)
        self.auth_dir = Path(auth_dir)
        self._redis: aioredis.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._creds: dict[str, dict[str, Any]] = {}
        self._stamps: dict[str, str] = {}
        self._generation = 0  # local: bumps whenever the cached credentials change
        self._remote_generation: str | None = None
        self._down_since: float | None = None
        self._down_reason = ""
        self._pushing: asyncio.Task | None = None
        self.spool = CredentialSpool(self.auth_dir / SPOOL_DIR)
        self._pending: dict[str, dict[str, Any] | None] = self.spool.load()
        self._apply_pending()

    @property
    def where(self) -> str:
        return self._where

    async def settle(self) -> None:
        if self._pushing is not None:
            await self._pushing
        await self._quiet(self._push_pending())

    # ---- connection and outage bookkeeping ---------------------------------------------------------
    @property
    def redis(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        if self._redis is None or self._loop is not loop:  # a client belongs to the loop that made it
            self._redis, self._loop = _client(self.url), loop
        return self._redis

    async def _call(self, op: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        try:
            result = await op(self.redis)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            self._mark_down(exc)
            raise StoreUnavailable(f"Redis at {self.where} is unreachable ({type(exc).__name__})") from None
        if self._down_since is not None:
            log.warning("store: Redis at %s is reachable again after %.0f s; catching up",
                        self.where, time.time() - self._down_since)
            self._down_since, self._down_reason = None, ""
        return result

    def _mark_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.time()
            self._down_reason = type(exc).__name__
            log.error("store: Redis at %s is unreachable (%s): serving from memory; no token is refreshed until "
                      "it is back", self.where, self._down_reason)

    @property
    def degraded(self) -> str:
        if self._down_since is None:
            return ""
        since = time.strftime("%H:%M:%S", time.localtime(self._down_since))
        return (f"Redis at {self.where} unreachable since {since} ({self._down_reason}): serving from memory, "
                f"tokens that need a refresh fail with 503, {len(self._pending)} credential write(s) waiting")

    # ---- credential spool (writes Redis has not taken yet) -----------------------------------------
    def _spool(self, name: str, data: Mapping[str, Any] | None) -> None:
        self._pending[name] = dict(data) if data is not None else None
        self.spool.put(name, data)

    def _unspool(self, name: str, data: Mapping[str, Any] | None) -> None:
        if name in self._pending and self._pending[name] == (dict(data) if data is not None else None):
            del self._pending[name]
            self.spool.remove(name)

    def _apply_pending(self) -> None:
        for name, data in self._pending.items():
            self._cache(name, data)

    def _cache(self, name: str, data: Mapping[str, Any] | None) -> None:
        if data is None:
            if self._creds.pop(name, None) is not None:
                self._stamps.pop(name, None)
                self._generation += 1
            return
        stamp = _stamp(data)
        if self._stamps.get(name) != stamp:
            self._creds[name], self._stamps[name] = dict(data), stamp
            self._generation += 1

    async def _push(self, name: str, data: Mapping[str, Any] | None) -> None:
        async def op(r: aioredis.Redis) -> Any:
            pipe = r.pipeline(transaction=True)
            if data is None:
                pipe.hdel(PREFIX + "cred", name)
            else:
                pipe.hset(PREFIX + "cred", name, json.dumps(dict(data)))
            pipe.incr(PREFIX + "cred:gen")
            return await pipe.execute()

        await self._call(op)

    async def _push_pending(self) -> None:
        for name, data in list(self._pending.items()):
            await self._push(name, data)
            self._unspool(name, data)

    def _push_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:  # CLI: push now, on a loop of its own
            try:
                asyncio.run(self._then_close(self._push_pending()))
            except StoreUnavailable as exc:
                log.warning("%s: the change is kept in %s and pushed when it is back", exc, self.auth_dir / SPOOL_DIR)
            return
        if self._pushing is None or self._pushing.done():
            self._pushing = loop.create_task(self._quiet(self._push_pending()))

    async def _then_close(self, coro: Awaitable[T]) -> T:
        try:
            return await coro
        finally:
            await self.aclose()

    @staticmethod
    async def _quiet(coro: Awaitable[None]) -> None:
        try:
            await coro
        except StoreUnavailable:
            pass  # logged once by _mark_down; pull() retries

    # ---- credentials -------------------------------------------------------------------------------
    def change_stamp(self) -> int:
        return self._generation

    def credential_stamps(self) -> dict[str, str]:
        return dict(self._stamps)

    def read_credential(self, name: str) -> dict[str, Any] | None:
        data = self._creds.get(name)
        return dict(data) if data is not None else None

    async def fetch_credential(self, name: str) -> dict[str, Any] | None:
        if name in self._pending:
            return self.read_credential(name)
        raw = await self._call(lambda r: r.hget(PREFIX + "cred", name))
        data = json.loads(raw) if raw else None
        self._cache(name, data if isinstance(data, dict) else None)
        return self.read_credential(name)

    async def put_credential(self, name: str, data: Mapping[str, Any]) -> None:
        self._cache(name, data)
        try:
            await self._push(name, data)
        except StoreUnavailable:
            self._spool(name, data)  # pushed by pull() once Redis is back; never lost

    def put_credential_soon(self, name: str, data: Mapping[str, Any]) -> None:
        self._cache(name, data)
        self._spool(name, data)
        self._push_soon()

    def delete_credential_soon(self, name: str) -> None:
        self._cache(name, None)
        self._spool(name, None)
        self._push_soon()

    async def pull(self) -> bool:
        """Push what waits in the spool, then reload credentials if another host changed them."""
        before = self._generation
        try:
            await self._push_pending()
            generation = await self._call(lambda r: r.get(PREFIX + "cred:gen"))
            if generation is None and self._creds:
                # A Redis that lost its data (restarted without persistence, flushed): every write bumps
                # the counter, so a missing one means nobody deleted these. Put ours back.
                log.warning("store: Redis at %s holds no credentials; restoring the %d this host knows",
                            self.where, len(self._creds))
                for name, data in list(self._creds.items()):
                    await self._push(name, data)
                generation = await self._call(lambda r: r.get(PREFIX + "cred:gen"))
            if generation != self._remote_generation or generation is None:
                everything = await self._call(lambda r: r.hgetall(PREFIX + "cred"))
                for name in set(self._creds) - set(everything) - set(self._pending):
                    self._cache(name, None)
                for name, raw in everything.items():
                    if name in self._pending:
                        continue
                    try:
                        data = json.loads(raw)
                    except ValueError:
                        log.warning("store: skipping unreadable credential %s in Redis", name)
                        continue
                    if isinstance(data, dict):
                        self._cache(name, data)
                self._remote_generation = generation
        except StoreUnavailable:
            pass
        return self._generation != before

    @asynccontextmanager
    async def refresh_lock(self, name: str, *, timeout: float = 60.0) -> AsyncIterator[None]:
        key, token = f"{PREFIX}lock:{name}", secrets.token_hex(16)
        lease_ms = int(LEASE_SECONDS * 1000)
        deadline = time.monotonic() + timeout
        while not await self._call(lambda r: r.set(key, token, nx=True, px=lease_ms)):
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"the refresh lock of {name} stayed taken for {timeout:.0f} s")
            await asyncio.sleep(LOCK_POLL_SECONDS)
        keeper = asyncio.get_running_loop().create_task(self._keep_lease(key, token, lease_ms))
        try:
            yield
        finally:
            keeper.cancel()
            try:
                await self._call(lambda r: r.eval(scripts.RELEASE, 1, key, token))
            except StoreUnavailable:
                pass  # the lease runs out by itself

    async def _keep_lease(self, key: str, token: str, lease_ms: int) -> None:
        while True:
            await asyncio.sleep(lease_ms / 3000)
            try:
                await self._call(lambda r: r.eval(scripts.EXTEND, 1, key, token, lease_ms))
            except StoreUnavailable:
                pass

    # ---- quota blocks ------------------------------------------------------------------------------
    async def put_block(self, account_id: str, until: float | None) -> None:
        if until is None:
            await self._call(lambda r: r.hdel(PREFIX + "blocks", account_id))
        else:
            await self._call(lambda r: r.eval(scripts.BLOCK, 1, PREFIX + "blocks", account_id, repr(float(until))))

    async def blocks(self) -> dict[str, float]:
        raw = await self._call(lambda r: r.hgetall(PREFIX + "blocks"))
        now = time.time()
        out = {}
        for account_id, value in raw.items():
            try:
                until = float(value)
            except ValueError:
                continue
            if until > now:
                out[account_id] = until
        return out

    # ---- keyed snapshots ---------------------------------------------------------------------------
    async def put_snapshots(self, kind: str, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        if not snapshots:
            return
        args: list[Any] = []
        for key, snap in snapshots.items():
            taken = snap.get("taken_at")
            args += [key, repr(float(taken)) if isinstance(taken, (int, float)) else "0", json.dumps(dict(snap))]
        keys = (f"{PREFIX}snap:{kind}", f"{PREFIX}snap:{kind}:taken")
        await self._call(lambda r: r.eval(scripts.SNAPSHOTS, 2, *keys, *args))

    async def snapshots(self, kind: str) -> dict[str, dict[str, Any]]:
        raw = await self._call(lambda r: r.hgetall(f"{PREFIX}snap:{kind}"))
        out = {}
        for key, value in raw.items():
            try:
                data = json.loads(value)
            except ValueError:
                continue
            if isinstance(data, dict):
                out[key] = data
        return out

    # ---- usage counters ----------------------------------------------------------------------------
    async def add_usage(self, delta: Mapping[str, Any]) -> dict[str, Any]:
        counters = usage_counters.to_counters(delta)
        infos = usage_counters.infos(delta)
        errors = [json.dumps(e) for e in delta.get("recent_errors") or [] if isinstance(e, dict)]

        async def op(r: aioredis.Redis) -> Any:
            pipe = r.pipeline(transaction=True)
            for field, n in counters.items():
                pipe.hincrby(PREFIX + "usage", field, n)
            for account_id, facts in infos.items():
                pipe.hset(PREFIX + "usage:info", account_id, json.dumps(facts))
            if errors:
                pipe.rpush(PREFIX + "usage:errors", *errors)
                pipe.ltrim(PREFIX + "usage:errors", -usage_counters.RECENT_ERRORS, -1)
            return await pipe.execute()

        if counters or infos or errors:
            await self._call(op)
        return await self.usage()

    async def usage(self) -> dict[str, Any]:
        async def op(r: aioredis.Redis) -> Any:
            pipe = r.pipeline(transaction=False)
            pipe.hgetall(PREFIX + "usage")
            pipe.hgetall(PREFIX + "usage:info")
            pipe.lrange(PREFIX + "usage:errors", 0, -1)
            return await pipe.execute()

        counters, info_raw, errors_raw = await self._call(op)
        infos: dict[str, dict[str, Any]] = {}
        for account_id, raw in info_raw.items():
            try:
                infos[account_id] = json.loads(raw)
            except ValueError:
                pass
        errors = []
        for raw in errors_raw:
            try:
                errors.append(json.loads(raw))
            except ValueError:
                pass
        return usage_counters.from_counters(counters, infos, errors)

    # ---- management login sessions -----------------------------------------------------------------
    async def put_session(self, state: str, data: Mapping[str, Any], ttl: float) -> None:
        await self._call(lambda r: r.set(f"{PREFIX}login:{state}", json.dumps(dict(data)), px=int(ttl * 1000)))

    async def get_session(self, state: str) -> dict[str, Any] | None:
        raw = await self._call(lambda r: r.get(f"{PREFIX}login:{state}"))
        data = json.loads(raw) if raw else None
        return data if isinstance(data, dict) else None

    async def delete_session(self, state: str) -> bool:
        return bool(await self._call(lambda r: r.delete(f"{PREFIX}login:{state}")))

    # ---- health ------------------------------------------------------------------------------------
    async def health(self) -> StoreHealth:
        try:
            await self._call(lambda r: r.ping())  # connects; the next one is the round trip every call pays
            t0 = time.perf_counter()
            await self._call(lambda r: r.ping())
            latency = (time.perf_counter() - t0) * 1000
            info = await self._call(lambda r: r.info("server"))
        except StoreUnavailable as exc:
            return StoreHealth("redis", self.where, False, detail=str(exc))
        return StoreHealth("redis", self.where, True, str(info.get("redis_version", "")), latency)

    async def aclose(self) -> None:
        if self._redis is not None:
            try:
                await self._redis.aclose()
            except Exception:
                pass
            self._redis = None
