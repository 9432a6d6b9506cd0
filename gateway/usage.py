"""Usage statistics per account and model, kept in memory and saved to auth-dir now and then.

The operator wants to see which account did how much and why requests failed, across restarts,
workers and hosts. The numbers come from the hook after each upstream attempt (LiteLLM's success event
carries the usage the upstream reported, normalised to the chat shape for every route, streams included
once they end). Recording is a few dict updates on the event loop, into the view and into a pending
delta; the runtime's loop hands the delta to the shared store at most every SAVE_INTERVAL seconds (and
at shutdown), which adds it to the totals every process shares (gateway/store/usage_counters.py: HINCRBY
in Redis, a merge under the file lock in auth-dir) and answers with the new totals. Nothing ever writes
a whole total it read earlier, so several workers' counts add up exactly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping

from gateway.store import Store, StoreUnavailable
from gateway.store import usage_counters

log = logging.getLogger("subgate.usage")

USAGE_FILE = ".usage-stats.json"
SAVE_INTERVAL = float(os.environ.get("SUBGATE_USAGE_SAVE_INTERVAL", "5"))
SERIES_HOURS = 24
RECENT_ERRORS = 50
TOKEN_KINDS = ("input", "output", "cached", "reasoning")
ERROR_KINDS = ("rate_limited", "auth", "client_error", "server_error", "network")


@dataclass(frozen=True)
class Tokens:
    input: int = 0
    output: int = 0
    cached: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output


@dataclass
class Tally:
    """One (account, model) cell. `requests` counts upstream attempts, failed ones included."""

    requests: int = 0
    input: int = 0
    output: int = 0
    cached: int = 0
    reasoning: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "input_tokens": self.input, "output_tokens": self.output,
                "cached_tokens": self.cached, "reasoning_tokens": self.reasoning, "errors": dict(self.errors)}

    def add(self, other: "Tally") -> None:
        self.requests += other.requests
        self.input += other.input
        self.output += other.output
        self.cached += other.cached
        self.reasoning += other.reasoning
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Tally":
        errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
        return cls(int(data.get("requests", 0)), int(data.get("input_tokens", 0)), int(data.get("output_tokens", 0)),
                   int(data.get("cached_tokens", 0)), int(data.get("reasoning_tokens", 0)),
                   {str(k): int(v) for k, v in errors.items()})


def error_kind(status: int | None) -> str:
    if status is None:
        return "network"
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status >= 500:
        return "server_error"
    return "client_error"


def _num(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def tokens_from(response: Any) -> Tokens | None:
    """The upstream's usage from a LiteLLM response object (chat, Responses or Anthropic shape)."""
    usage = _get(response, "usage")
    if usage is None:
        inner = _get(response, "response")  # a Responses stream's completed event
        usage = _get(inner, "usage")
    if usage is None:
        return None
    prompt = _get(usage, "prompt_tokens")
    if prompt is not None:  # chat shape, what LiteLLM normalises every route to in its success event
        return Tokens(_num(prompt), _num(_get(usage, "completion_tokens")),
                      _num(_get(_get(usage, "prompt_tokens_details"), "cached_tokens")),
                      _num(_get(_get(usage, "completion_tokens_details"), "reasoning_tokens")))
    if _get(usage, "input_tokens") is not None:
        cached = _get(_get(usage, "input_tokens_details"), "cached_tokens")
        if cached is None:  # Anthropic: cache reads are billed apart from input_tokens
            cached = _get(usage, "cache_read_input_tokens")
            base = _num(_get(usage, "input_tokens")) + _num(cached) + _num(_get(usage, "cache_creation_input_tokens"))
        else:
            base = _num(_get(usage, "input_tokens"))
        return Tokens(base, _num(_get(usage, "output_tokens")), _num(cached),
                      _num(_get(_get(usage, "output_tokens_details"), "reasoning_tokens")))
    return None


@dataclass
class AccountInfo:
    email: str = ""
    provider: str = ""
    last_reset_seen: float | None = None


class UsageBook:
    def __init__(self, store: Store | None = None, *, clock: Any = time.time) -> None:
        self.store = store
        self.clock = clock
        self.tallies: dict[tuple[str, str], Tally] = {}
        self.accounts: dict[str, AccountInfo] = {}
        self.hours: dict[int, list[int]] = {}  # hour start -> [requests, tokens, errors]
        self.recent_errors: deque[dict[str, Any]] = deque(maxlen=RECENT_ERRORS)
        self.dirty = False
        self._last_save = self._last_read = 0.0
        self.started = False
        # What this process counted since its last hand-over to the store.
        self._pending: UsageBook | None = UsageBook(clock=clock) if store is not None else None

    # ---- recording (request path: dict updates only) --------------------------------------------
    def _cell(self, account_id: str, email: str, provider: str, model: str) -> Tally:
        info = self.accounts.get(account_id)
        if info is None:
            info = self.accounts[account_id] = AccountInfo(email, provider)
        elif email and info.email != email:
            info.email = email
        key = (account_id, model)
        cell = self.tallies.get(key)
        if cell is None:
            cell = self.tallies[key] = Tally()
        self.dirty = True
        return cell

    def _hour(self) -> list[int]:
        hour = int(self.clock() // 3600) * 3600
        bucket = self.hours.get(hour)
        if bucket is None:
            bucket = self.hours[hour] = [0, 0, 0]
            for old in [h for h in self.hours if h <= hour - SERIES_HOURS * 3600]:
                del self.hours[old]
        return bucket

    def record_success(self, account_id: str, email: str, provider: str, model: str, tokens: Tokens | None,
                       *, counted: bool = False) -> None:
        """counted: the attempt was already recorded (a stream stopped at shutdown); add its tokens only."""
        if self._pending is not None:
            self._pending.record_success(account_id, email, provider, model, tokens, counted=counted)
        cell = self._cell(account_id, email, provider, model)
        bucket = self._hour()
        if not counted:
            cell.requests += 1
            bucket[0] += 1
        if tokens is not None:
            cell.input += tokens.input
            cell.output += tokens.output
            cell.cached += tokens.cached
            cell.reasoning += tokens.reasoning
            bucket[1] += tokens.total

    def record_failure(self, account_id: str, email: str, provider: str, model: str, status: int | None,
                       message: str = "", reset_at: float | None = None) -> str:
        if self._pending is not None:
            self._pending.record_failure(account_id, email, provider, model, status, message, reset_at)
        kind = error_kind(status)
        cell = self._cell(account_id, email, provider, model)
        cell.requests += 1
        cell.errors[kind] = cell.errors.get(kind, 0) + 1
        bucket = self._hour()
        bucket[0] += 1
        bucket[2] += 1
        if reset_at is not None:
            self.accounts[account_id].last_reset_seen = reset_at
        self.recent_errors.append({"time": self.clock(), "account": email, "provider": provider, "model": model,
                                   "status": status, "kind": kind, "message": message[:200]})
        return kind

    # ---- views ------------------------------------------------------------------------------------
    def account_total(self, account_id: str) -> Tally:
        total = Tally()
        for (acct, _), cell in self.tallies.items():
            if acct == account_id:
                total.add(cell)
        return total

    def by_model(self) -> dict[str, Tally]:
        out: dict[str, Tally] = {}
        for (_, model), cell in self.tallies.items():
            out.setdefault(model, Tally()).add(cell)
        return out

    def series(self, hours: int = SERIES_HOURS) -> list[dict[str, int]]:
        """One point per hour, oldest first, the current hour last; hours without traffic are zero."""
        now_hour = int(self.clock() // 3600) * 3600
        out = []
        for i in range(hours - 1, -1, -1):
            hour = now_hour - i * 3600
            req, tok, err = self.hours.get(hour, (0, 0, 0))
            out.append({"hour": hour, "requests": req, "tokens": tok, "errors": err})
        return out

    def as_dict(self) -> dict[str, Any]:
        accounts: dict[str, Any] = {}
        for account_id, info in self.accounts.items():
            accounts[account_id] = {"email": info.email, "provider": info.provider,
                                    "last_reset_seen": info.last_reset_seen, "models": {}}
        for (account_id, model), cell in self.tallies.items():
            accounts[account_id]["models"][model] = cell.as_dict()
        return {
            "version": 1,
            "accounts": accounts,
            "hours": [[h, *v] for h, v in sorted(self.hours.items())],
            "recent_errors": list(self.recent_errors),
        }

    # ---- persistence ------------------------------------------------------------------------------
    def _load(self, data: Mapping[str, Any]) -> None:
        """Replace the view with saved-shape data (the shared totals)."""
        self.tallies.clear()
        self.accounts.clear()
        self.hours.clear()
        self.recent_errors.clear()
        for account_id, entry in (data.get("accounts") or {}).items():
            if not isinstance(entry, dict):
                continue
            reset = entry.get("last_reset_seen")
            self.accounts[account_id] = AccountInfo(str(entry.get("email") or ""), str(entry.get("provider") or ""),
                                                    float(reset) if isinstance(reset, (int, float)) else None)
            for model, cell in (entry.get("models") or {}).items():
                if isinstance(cell, dict):
                    self.tallies[(account_id, model)] = Tally.from_dict(cell)
        horizon = int(self.clock() // 3600) * 3600 - SERIES_HOURS * 3600
        for row in data.get("hours") or []:
            if isinstance(row, list) and len(row) == 4 and row[0] > horizon:
                self.hours[int(row[0])] = [int(row[1]), int(row[2]), int(row[3])]
        for err in (data.get("recent_errors") or [])[-RECENT_ERRORS:]:
            if isinstance(err, dict):
                self.recent_errors.append(err)

    async def start(self) -> None:
        """Show the shared totals from the start (statistics survive restarts)."""
        self.started = True
        if self.store is None:
            return
        try:
            self._load(usage_counters.merge(await self.store.usage(), self._pending_dict()))
        except StoreUnavailable:
            pass
        except OSError as exc:
            log.warning("could not read usage statistics: %s", type(exc).__name__)

    async def _reread(self) -> None:
        assert self.store is not None
        try:
            totals = await self.store.usage()
        except (StoreUnavailable, OSError):
            return
        self._load(usage_counters.merge(totals, self._pending_dict()))

    def _put_back(self, delta: "UsageBook") -> None:
        """A delta the store did not take goes back in front of what was recorded since."""
        later, self._pending = self._pending, delta
        self._pending._load(usage_counters.merge(delta.as_dict(), later.as_dict()))

    def _pending_dict(self) -> dict[str, Any]:
        return self._pending.as_dict() if self._pending is not None else usage_counters.empty()

    async def flush(self, force: bool = False) -> bool:
        """Hand the pending delta to the store; True when it was taken. A store that is down keeps
        nothing from us: the delta stays pending and goes with the next flush."""
        now = time.monotonic()
        if self.store is None or self._pending is None:
            return False
        if not self._pending.tallies and not self._pending.accounts:
            if now - self._last_read >= SAVE_INTERVAL:
                self._last_read = now
                await self._reread()  # nothing of ours to add: still show what the other processes added
            return False
        if not force and now - self._last_save < SAVE_INTERVAL:
            return False
        self._last_save = self._last_read = now
        delta, self._pending = self._pending, UsageBook(clock=self.clock)
        hand_over = asyncio.ensure_future(self.store.add_usage(delta.as_dict()))
        try:
            totals = await asyncio.shield(hand_over)
        except asyncio.CancelledError:
            # Shutdown cancels the background loop, possibly right here: the delta is no longer pending,
            # so the hand-over finishes (or the delta is put back) before the cancellation goes on.
            await asyncio.wait([hand_over])
            if hand_over.cancelled() or hand_over.exception() is not None:
                self._put_back(delta)
            raise
        except (StoreUnavailable, OSError) as exc:
            if not isinstance(exc, StoreUnavailable):
                log.warning("could not save usage statistics: %s", type(exc).__name__)
            self._put_back(delta)
            return False
        self._load(usage_counters.merge(totals, self._pending_dict()))
        self.dirty = bool(self._pending.tallies)
        return True
