"""Account-level quota blocks.

A subscription limit (ChatGPT's usage_limit_reached, Claude's unified 5h/7d limits) belongs to the
account, not to one model: LiteLLM cools a single deployment for 5 s by default and ignores the reset
time in a Codex body, so an exhausted account would be re-probed every few seconds for every model.
The gateway blocks the whole account until the reset it reads from the answer (or an exponential
backoff, 1 s doubling to 30 min, when none is given); the first success clears the block.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

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
    """In-memory blocks, mirrored to auth-dir (when given) so other workers and the CLI see them."""

    shared_dir: Path | None = None
    blocks: dict[str, Block] = field(default_factory=dict)
    shared: dict[str, float] = field(default_factory=dict)
    last_reset_seen: dict[str, float] = field(default_factory=dict)

    def load_shared(self) -> None:
        if self.shared_dir is not None:
            from gateway.quota_file import read_blocks

            self.shared = read_blocks(self.shared_dir)

    def _publish(self, account_id: str, until: float | None) -> None:
        if self.shared_dir is None:
            return
        from gateway.quota_file import clear_block, write_blocks

        try:
            if until is None:
                clear_block(self.shared_dir, account_id)
                self.shared.pop(account_id, None)
            else:
                write_blocks(self.shared_dir, {account_id: until})
        except OSError as exc:
            log.warning("could not write the shared quota file: %s", exc)

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
