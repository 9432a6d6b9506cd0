"""Account-level quota blocks.

A subscription limit (ChatGPT's usage_limit_reached, Claude's unified 5h/7d limits) belongs to the
account, not to one model: LiteLLM cools a single deployment for 5 s by default and ignores the reset
time in a Codex body, so an exhausted account would be re-probed every few seconds for every model.
The gateway blocks the whole account until the reset it reads from the answer (or an exponential
backoff, 1 s doubling to 30 min, when none is given); the first success clears the block.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Mapping

log = logging.getLogger("subgate.quota")

BACKOFF_START = 1.0
BACKOFF_CAP = 30 * 60.0


@dataclass
class Block:
    until: float
    level: int = 0
    reason: str = ""


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _header_reset(headers: Mapping[str, str], now: float) -> float | None:
    lower = {str(k).lower().removeprefix("llm_provider-"): v for k, v in headers.items()}
    resets = []
    for key in (
        "anthropic-ratelimit-unified-reset",
        "anthropic-ratelimit-unified-5h-reset",
        "anthropic-ratelimit-unified-7d-reset",
    ):
        status_key = key.replace("-reset", "-status")
        value = _num(lower.get(key))
        if value is None:
            continue
        status = str(lower.get(status_key, "rejected")).lower()
        if status == "rejected" or key == "anthropic-ratelimit-unified-reset":
            resets.append(value)
    rejected = [r for r in resets if r > now]
    if rejected:
        return max(rejected) if str(lower.get("anthropic-ratelimit-unified-status", "")).lower() == "rejected" else min(rejected)
    ms = _num(lower.get("retry-after-ms"))
    if ms is not None:
        return now + ms / 1000.0
    ra = lower.get("retry-after")
    if ra is not None:
        secs = _num(ra)
        if secs is not None:
            return now + secs
        try:
            return parsedate_to_datetime(str(ra)).timestamp()
        except (TypeError, ValueError):
            return None
    return None


def _body_reset(body: Any, now: float) -> float | None:
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        start = text.find("{")
        if start < 0:
            return None
        try:
            body = json.loads(text[start : text.rfind("}") + 1])
        except ValueError:
            return None
    if not isinstance(body, dict):
        return None
    err = body.get("error") if isinstance(body.get("error"), dict) else body
    at = _num(err.get("resets_at"))
    if at is not None:
        return at
    secs = _num(err.get("resets_in_seconds"))
    if secs is not None:
        return now + secs
    return None


def reset_time(headers: Mapping[str, str] | None, body: Any, now: float | None = None) -> float | None:
    """When the limit named by a 429 answer lifts, from the body first (Codex), then the headers."""
    now = time.time() if now is None else now
    return _body_reset(body, now) or _header_reset(headers or {}, now)


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
