"""The storage seam (gateway/store/base.py): auth-dir files by default, Redis for several hosts.

`open_store(settings)` picks the implementation from `gateway.store` (or LiteLLM's `router_settings`
Redis keys, see gateway/config.py); everything shared across processes goes through the Store it returns.
"""

from __future__ import annotations

from pathlib import Path

from gateway.store.base import Store, StoreHealth, StoreUnavailable

__all__ = ["Store", "StoreHealth", "StoreUnavailable", "open_store", "open_store_now"]


def open_store(url: str, auth_dir: Path) -> Store:
    """`url` is "" or "files" for auth-dir, redis://host:port/db (or rediss://) for Redis."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from gateway.store.redis_store import RedisStore

        return RedisStore(url, auth_dir)
    from gateway.store.files import FileStore

    return FileStore(auth_dir)


def open_store_now(url: str, auth_dir: Path) -> Store:
    """A store with the shared credentials already read, for synchronous code with no event loop of
    its own (the start banner); a Redis that cannot be reached leaves it empty."""
    import asyncio

    store = open_store(url, auth_dir)

    async def pull() -> None:
        try:
            await store.pull()
        finally:
            await store.aclose()

    asyncio.run(pull())
    return store
