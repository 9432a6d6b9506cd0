"""The storage seam: what several workers or hosts share, behind one interface with two implementations.

`FileStore` (gateway/store/files.py) keeps everything in auth-dir, as one box always has: nothing to
install, workers on one machine share through file locks. `RedisStore` (gateway/store/redis_store.py)
keeps the same things in one Redis server so several hosts share them. Callers never learn which one
they hold; the README's "Team deployment" section says what is shared and what is not. Through here go:

- credentials: CLIProxyAPI-format JSON per account, by file name (`claude-<email>.json`);
- the refresh lock: one refresh per account across every process and host, with a lease that lapses
  when the holder dies, so a killed host never locks an account out for good;
- quota blocks {account id: blocked-until};
- keyed snapshots: small JSON records per (kind, key), newest `taken_at` wins (usage-header readings);
- usage counters: increments merged into the shared totals, never a whole-file overwrite;
- management login sessions, so another host or a restart can finish a half-done login.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, AsyncContextManager, Collection, Mapping

DEFAULT_LEASE_SECONDS = 60.0


class StoreUnavailable(Exception):
    """The shared store cannot be reached right now (Redis down); callers keep serving from memory."""


@dataclass(frozen=True)
class StoreHealth:
    kind: str  # "files" or "redis"
    where: str  # auth-dir path, or the Redis URL without its password
    reachable: bool
    version: str = ""
    latency_ms: float | None = None
    detail: str = ""


class Store(abc.ABC):
    kind: str = ""

    # ---- credentials -------------------------------------------------------------------------------
    @abc.abstractmethod
    def change_stamp(self) -> Any:
        """Changes whenever any credential may have changed (cheap: read once per request)."""

    @abc.abstractmethod
    def credential_stamps(self) -> dict[str, Any]:
        """{name: stamp} of every credential this process knows now, without waiting on the network."""

    @abc.abstractmethod
    def read_credential(self, name: str) -> dict[str, Any] | None:
        """The freshest copy this process can get without blocking on the network."""

    def inspect_credential(self, name: str, providers: Collection[str] = ()) -> tuple[dict[str, Any] | None, str]:
        """(data, "") for a usable credential, (None, what is wrong with it), or (None, "") when gone."""
        return self.read_credential(name), ""

    def first_to_report(self, name: str, stamp: Any, run: str) -> bool:
        """True for the one process of gateway run `run` that should report credential `name` at `stamp`.

        Every worker finds a broken file; the gateway says so once per change of the file. A store
        whose credentials cannot break on disk has nothing to share here: each process answers True."""
        return True

    @abc.abstractmethod
    async def fetch_credential(self, name: str) -> dict[str, Any] | None:
        """The authoritative copy (under the refresh lock: another host may have just refreshed)."""

    @abc.abstractmethod
    async def put_credential(self, name: str, data: Mapping[str, Any]) -> None:
        """Save an account; never lost: kept locally and pushed later if the store is down."""

    @abc.abstractmethod
    def put_credential_soon(self, name: str, data: Mapping[str, Any]) -> None:
        """The same from synchronous code (CLI, management handlers): durable before it returns."""

    @abc.abstractmethod
    def delete_credential_soon(self, name: str) -> None:
        """Remove an account (synchronous callers)."""

    async def settle(self) -> None:
        """Wait until writes made with the *_soon methods have reached the store (or the spool)."""
        return None

    @property
    def where(self) -> str:
        return ""

    @abc.abstractmethod
    async def pull(self) -> bool:
        """Bring the local view up to date with the shared one; True when credentials changed."""

    @abc.abstractmethod
    def refresh_lock(self, name: str, *, timeout: float = 60.0) -> AsyncContextManager[None]:
        """Held around every refresh of account `name`; raises StoreUnavailable if it cannot be taken."""

    # ---- quota blocks ------------------------------------------------------------------------------
    @abc.abstractmethod
    async def put_block(self, account_id: str, until: float | None) -> None:
        """Publish (or, with None, clear) an account's block."""

    @abc.abstractmethod
    async def blocks(self) -> dict[str, float]:
        """Every live block {account id: until}."""

    # ---- keyed snapshots ---------------------------------------------------------------------------
    @abc.abstractmethod
    async def put_snapshots(self, kind: str, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        """Merge {key: snapshot}; a snapshot replaces the stored one unless that has a newer `taken_at`."""

    @abc.abstractmethod
    async def snapshots(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every stored snapshot of this kind {key: snapshot}."""

    # ---- usage counters ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_usage(self, delta: Mapping[str, Any]) -> dict[str, Any]:
        """Add a usage delta (gateway/usage.py's dict shape) to the shared totals; returns the totals."""

    @abc.abstractmethod
    async def usage(self) -> dict[str, Any]:
        """The shared totals, same shape."""

    # ---- management login sessions -----------------------------------------------------------------
    @abc.abstractmethod
    async def put_session(self, state: str, data: Mapping[str, Any], ttl: float) -> None: ...

    @abc.abstractmethod
    async def get_session(self, state: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def delete_session(self, state: str) -> bool: ...

    # ---- health ------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def health(self) -> StoreHealth: ...

    @property
    def degraded(self) -> str:
        """Empty while the store is reachable, else why not (for /ui and the log)."""
        return ""

    async def aclose(self) -> None:
        return None
