"""Per-account subscription usage for the fake upstreams: it grows with every answer and resets on schedule.

The real services report each account's 5-hour and weekly usage on every answer and refuse with 429 once a
window is full. The fakes do the same from this meter, so the gateway's headroom view and routing are
always tested against moving numbers:

    meter = UsageMeter()                                  # shared by a fake, one state per account email
    meter.set("a@example.com", five_hour=95, cost=2)      # near its limit; each answer adds 2 %
    meter.charge("a@example.com")                         # -> the account's windows after this answer
    meter.full("a@example.com")                           # -> the full window (its reset) or None

A window starts with the first answer after its last reset and resets `five_hour_seconds` (or
`weekly_seconds`) later; tests shorten both to see resets happen. The weekly window grows by
`cost * weekly_ratio` per answer. The default cost is small (0.005 % of the 5-hour window) so long runs
and benchmarks never reach a limit unless a test asks for it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

DEFAULT_COST = 0.005
DEFAULT_WEEKLY_RATIO = 0.1


@dataclass
class MeterWindow:
    length: float
    used: float = 0.0
    resets_at: float | None = None  # None until the first answer of this window

    def roll(self, now: float) -> None:
        if self.resets_at is not None and now >= self.resets_at:
            self.used, self.resets_at = 0.0, None

    def start(self, now: float) -> None:
        if self.resets_at is None:
            self.resets_at = now + self.length

    def reset_time(self, now: float) -> float:
        return self.resets_at if self.resets_at is not None else now + self.length


@dataclass
class AccountMeter:
    five_hour: MeterWindow
    weekly: MeterWindow
    cost: float = DEFAULT_COST
    weekly_ratio: float = DEFAULT_WEEKLY_RATIO


@dataclass(frozen=True)
class Reading:
    """One account's windows as the upstream would report them."""

    five_hour_used: float
    five_hour_reset: float
    weekly_used: float
    weekly_reset: float
    five_hour_minutes: int
    weekly_minutes: int

    @property
    def full(self) -> str | None:
        if self.five_hour_used >= 100.0:
            return "five_hour"
        if self.weekly_used >= 100.0:
            return "seven_day"
        return None

    @property
    def full_reset(self) -> float:
        return self.weekly_reset if self.full == "seven_day" else self.five_hour_reset


@dataclass
class UsageMeter:
    five_hour_seconds: float = 5 * 3600.0
    weekly_seconds: float = 7 * 86400.0
    clock: Callable[[], float] = time.time
    _accounts: dict[str, AccountMeter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _account(self, email: str) -> AccountMeter:
        acct = self._accounts.get(email)
        if acct is None:
            acct = AccountMeter(MeterWindow(self.five_hour_seconds), MeterWindow(self.weekly_seconds))
            self._accounts[email] = acct
        now = self.clock()
        acct.five_hour.roll(now)
        acct.weekly.roll(now)
        return acct

    def set(self, email: str, *, five_hour: float | None = None, weekly: float | None = None,
            cost: float | None = None, weekly_ratio: float | None = None,
            five_hour_resets_in: float | None = None, weekly_resets_in: float | None = None) -> None:
        """Put an account where a test wants it (both windows start now unless told otherwise)."""
        with self._lock:
            acct = self._account(email)
            now = self.clock()
            if five_hour is not None:
                acct.five_hour.used = float(five_hour)
                acct.five_hour.start(now)
            if weekly is not None:
                acct.weekly.used = float(weekly)
                acct.weekly.start(now)
            if five_hour_resets_in is not None:
                acct.five_hour.resets_at = now + five_hour_resets_in
            if weekly_resets_in is not None:
                acct.weekly.resets_at = now + weekly_resets_in
            if cost is not None:
                acct.cost = float(cost)
            if weekly_ratio is not None:
                acct.weekly_ratio = float(weekly_ratio)

    def _reading(self, acct: AccountMeter) -> Reading:
        now = self.clock()
        return Reading(
            five_hour_used=round(acct.five_hour.used, 4), five_hour_reset=acct.five_hour.reset_time(now),
            weekly_used=round(acct.weekly.used, 4), weekly_reset=acct.weekly.reset_time(now),
            five_hour_minutes=max(1, round(acct.five_hour.length / 60)),
            weekly_minutes=max(1, round(acct.weekly.length / 60)),
        )

    def read(self, email: str) -> Reading:
        with self._lock:
            return self._reading(self._account(email))

    def full(self, email: str) -> Reading | None:
        """The reading when a window of this account is full (the answer must be a 429), else None."""
        reading = self.read(email)
        return reading if reading.full else None

    def charge(self, email: str) -> Reading:
        """Count one answer against both windows and return the windows after it."""
        with self._lock:
            acct = self._account(email)
            now = self.clock()
            acct.five_hour.start(now)
            acct.weekly.start(now)
            acct.five_hour.used += acct.cost
            acct.weekly.used += acct.cost * acct.weekly_ratio
            return self._reading(acct)


def anthropic_headers(reading: Reading, *, rejected: bool = False) -> dict[str, str]:
    """`anthropic-ratelimit-unified-*` as the real API sends them (utilization as a fraction)."""

    def status(used: float) -> str:
        if used >= 100.0:
            return "rejected"
        return "allowed_warning" if used >= 80.0 else "allowed"

    claim = "seven_day" if reading.weekly_used > reading.five_hour_used else "five_hour"
    overall = "rejected" if rejected or reading.full else status(max(reading.five_hour_used, reading.weekly_used))
    reset = reading.full_reset if reading.full else (reading.weekly_reset if claim == "seven_day" else reading.five_hour_reset)
    return {
        "anthropic-ratelimit-unified-status": overall,
        "anthropic-ratelimit-unified-reset": str(int(reset)),
        "anthropic-ratelimit-unified-representative-claim": reading.full or claim,
        "anthropic-ratelimit-unified-5h-status": status(reading.five_hour_used),
        "anthropic-ratelimit-unified-5h-utilization": f"{reading.five_hour_used / 100.0:.4f}",
        "anthropic-ratelimit-unified-5h-reset": str(int(reading.five_hour_reset)),
        "anthropic-ratelimit-unified-7d-status": status(reading.weekly_used),
        "anthropic-ratelimit-unified-7d-utilization": f"{reading.weekly_used / 100.0:.4f}",
        "anthropic-ratelimit-unified-7d-reset": str(int(reading.weekly_reset)),
    }


def codex_headers(reading: Reading, now: float | None = None) -> dict[str, str]:
    """`x-codex-primary-*` (5-hour) and `x-codex-secondary-*` (weekly) as the Codex backend sends them."""
    now = time.time() if now is None else now
    headers = {
        "x-codex-primary-used-percent": f"{reading.five_hour_used:g}",
        "x-codex-primary-window-minutes": str(reading.five_hour_minutes),
        "x-codex-primary-reset-at": str(int(reading.five_hour_reset)),
        "x-codex-primary-reset-after-seconds": str(max(0, int(reading.five_hour_reset - now))),
        "x-codex-secondary-used-percent": f"{reading.weekly_used:g}",
        "x-codex-secondary-window-minutes": str(reading.weekly_minutes),
        "x-codex-secondary-reset-at": str(int(reading.weekly_reset)),
        "x-codex-secondary-reset-after-seconds": str(max(0, int(reading.weekly_reset - now))),
    }
    if reading.full:
        headers["x-codex-rate-limit-reached-type"] = "rate_limit_reached"
    return headers
