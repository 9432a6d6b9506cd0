"""Account-level quota blocks.

A subscription limit (ChatGPT's usage_limit_reached, Claude's unified 5h/7d limits) belongs to the
account, not to one model: LiteLLM cools a single deployment for 5 s by default and ignores the reset
time in a Codex body, so an exhausted account would be re-probed every few seconds for every model.
The gateway blocks the whole account until the reset it reads from the answer (or an exponential
backoff, 1 s doubling to 30 min, when none is given); the first success clears the block. Blocks are
shared with every worker and host through the storage seam (gateway/store/): published in the
background, read back by the runtime's loop, and re-published when a store that was down answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from gateway.store import Store, StoreUnavailable

log = logging.getLogger("subgate.quota")

BACKOFF_START = 1.0
BACKOFF_CAP = 30 * 60.0


@dataclass
class Block:
    until: float
    level: int = 0
    reason: str = ""


@dataclass
class QuotaBook:
    """In-memory blocks, mirrored to the shared store (when given) so other workers, hosts and the CLI
    see them; `shared` holds what the others published."""

    store: Store | None = None
    blocks: dict[str, Block] = field(default_factory=dict)
    shared: dict[str, float] = field(default_factory=dict)
    last_reset_seen: dict[str, float] = field(default_factory=dict)
    _unpublished: dict[str, float | None] = field(default_factory=dict)
    _task: asyncio.Task | None = None

    async def sync(self) -> None:
        """Publish what is still unpublished, then read everyone's blocks (the runtime loop)."""
        if self.store is None:
            return
        try:
            await self._flush()
            self.shared = await self.store.blocks()
        except StoreUnavailable:
            pass  # keep the last view; _unpublished waits for the store
        except OSError as exc:
            log.warning("could not read or write the shared quota blocks: %s", type(exc).__name__)

    async def _flush(self) -> None:
        assert self.store is not None
        while self._unpublished:
            account_id, until = next(iter(self._unpublished.items()))
            await self.store.put_block(account_id, until)
            if self._unpublished.get(account_id, 0.0) == until:
                del self._unpublished[account_id]

    def _publish(self, account_id: str, until: float | None) -> None:
        if self.store is None:
            return
        self._unpublished[account_id] = until
        if until is None:
            self.shared.pop(account_id, None)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (CLI, tests): the next sync() publishes it
        if self._task is None or self._task.done():
            self._task = loop.create_task(self.sync())

    def block(self, account_id: str, reset_at: float | None, *, label: str = "", reason: str = "") -> float:
        now = time.time()
        prev = self.blocks.get(account_id)
        level = prev.level + 1 if prev else 0
        if reset_at is None or reset_at <= now:
            reset_at = now + min(BACKOFF_CAP, BACKOFF_START * (2**level))
        else:
            self.last_reset_seen[account_id] = reset_at
        if prev is None or prev.until < reset_at:
            log.warning("account blocked: %s until %s (%s)", label or account_id, _fmt(reset_at), reason or "quota")
        self.blocks[account_id] = Block(until=max(reset_at, prev.until if prev else 0), level=level, reason=reason)
        self._publish(account_id, self.blocks[account_id].until)
        return self.blocks[account_id].until

    def clear(self, account_id: str, *, label: str = "") -> None:
        if self.blocks.pop(account_id, None) is not None or account_id in self.shared:
            log.info("account block cleared: %s", label or account_id)
            self._publish(account_id, None)

    def blocked_until(self, account_id: str, now: float | None = None) -> float | None:
        b = self.blocks.get(account_id)
        until = max(b.until if b else 0.0, self.shared.get(account_id, 0.0))
        if until <= (time.time() if now is None else now):
            return None
        return until

    def has_blocks(self) -> bool:
        return bool(self.blocks or self.shared)

    def is_blocked(self, account_id: str) -> bool:
        return self.blocked_until(account_id) is not None


def _fmt(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
