"""The Codex backend's `x-codex-primary-*` / `x-codex-secondary-*` headers -> a UsageReading.

Every answer of chatgpt.com/backend-api/codex carries them, in the response head of a stream too (Codex
CLI reads them there before the first event):

    x-codex-primary-used-percent          percent of the short window used (a number, e.g. 42 or 42.5)
    x-codex-primary-window-minutes        its length (300 = 5 hours)
    x-codex-primary-reset-at              unix seconds; older answers send -reset-after-seconds instead
    x-codex-secondary-*                   the same for the long window (10080 = one week)
    x-codex-rate-limit-reached-type       present when a limit is hit

Which of the two is the 5-hour window is decided by the window length when given (the shorter one),
else primary = 5 hours, secondary = weekly, as Codex CLI itself assumes.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from custom_providers.usage_reading import FIVE_HOURS_MINUTES, WEEK_MINUTES, UsageReading, Window, lower_headers, number


def _window(h: Mapping[str, str], name: str, default_minutes: int, now: float) -> Window | None:
    used = number(h.get(f"x-codex-{name}-used-percent"))
    if used is None:
        return None
    minutes = number(h.get(f"x-codex-{name}-window-minutes"))
    reset = number(h.get(f"x-codex-{name}-reset-at"))
    if reset is None:
        after = number(h.get(f"x-codex-{name}-reset-after-seconds"))
        reset = now + after if after is not None else None
    return Window(used_percent=used, resets_at=reset,
                  window_minutes=int(minutes) if minutes is not None and minutes > 0 else default_minutes)


def parse_usage_headers(headers: Mapping[str, Any], now: float | None = None) -> UsageReading | None:
    """The reading in one answer's headers, or None when they carry no usage figures."""
    h = lower_headers(headers)
    now = time.time() if now is None else now
    primary = _window(h, "primary", FIVE_HOURS_MINUTES, now)
    secondary = _window(h, "secondary", WEEK_MINUTES, now)
    if primary is None and secondary is None:
        return None
    five, week = primary, secondary
    if primary is not None and secondary is not None and (primary.window_minutes or 0) > (secondary.window_minutes or 0):
        five, week = secondary, primary
    elif primary is None and secondary is not None and (secondary.window_minutes or WEEK_MINUTES) <= FIVE_HOURS_MINUTES:
        five, week = secondary, None
    reached = h.get("x-codex-rate-limit-reached-type", "").strip()
    return UsageReading(five_hour=five, weekly=week, status="rejected" if reached else "", limited=bool(reached))
