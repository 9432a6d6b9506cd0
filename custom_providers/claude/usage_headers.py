"""Anthropic's `anthropic-ratelimit-unified-*` headers -> a UsageReading.

Every answer to a subscription token carries them (successes, 429s, and streams in the response
head, before the first event):

    anthropic-ratelimit-unified-status                allowed | allowed_warning | rejected
    anthropic-ratelimit-unified-reset                 unix seconds: when the deciding window resets
    anthropic-ratelimit-unified-representative-claim  five_hour | seven_day | seven_day_opus | ...
    anthropic-ratelimit-unified-5h-utilization        a fraction, 0.42 = 42 % of the 5-hour window
    anthropic-ratelimit-unified-5h-reset / -5h-status
    anthropic-ratelimit-unified-7d-utilization / -7d-reset / -7d-status   the weekly window

Utilization is a fraction (0..1, a little over 1 once exceeded); it is turned into a percent here.
"""

from __future__ import annotations

from typing import Any, Mapping

from custom_providers.usage_reading import FIVE_HOURS_MINUTES, WEEK_MINUTES, UsageReading, Window, lower_headers, number

PREFIX = "anthropic-ratelimit-unified-"


def _window(h: Mapping[str, str], key: str, minutes: int) -> Window | None:
    used = number(h.get(f"{PREFIX}{key}-utilization"))
    status = h.get(f"{PREFIX}{key}-status", "").strip().lower()
    reset = number(h.get(f"{PREFIX}{key}-reset"))
    if used is None:
        if status != "rejected":
            return None
        used = 1.0  # rejected without a figure: the window is full
    return Window(used_percent=round(used * 100.0, 2), resets_at=reset, window_minutes=minutes, status=status)


def parse_usage_headers(headers: Mapping[str, Any]) -> UsageReading | None:
    """The reading in one answer's headers, or None when they carry no unified limit figures."""
    h = lower_headers(headers)
    if not any(name.startswith(PREFIX) for name in h):
        return None
    five = _window(h, "5h", FIVE_HOURS_MINUTES)
    week = _window(h, "7d", WEEK_MINUTES)
    status = h.get(f"{PREFIX}status", "").strip().lower()
    if five is None and week is None:
        return None
    return UsageReading(five_hour=five, weekly=week, status=status,
                        claim=h.get(f"{PREFIX}representative-claim", "").strip().lower(),
                        limited=status == "rejected")
