"""The body Codex CLI's `/status` decodes from `{chatgpt_base_url}/wham/usage`.

Codex CLI (codex-rs backend-client) decodes this strictly: `plan_type` must be one of the backend's plan
names, `rate_limit.allowed` / `limit_reached` are booleans, and each window's `used_percent`,
`limit_window_seconds`, `reset_after_seconds` and `reset_at` are integers (a float fails the whole
screen). `primary_window` is the 5-hour window and `secondary_window` the weekly one; either may be null
when nothing is known.

    {"plan_type": "plus", "rate_limit": {"allowed": true, "limit_reached": false,
      "primary_window": {"used_percent": 42, "limit_window_seconds": 18000, "reset_after_seconds": 3600,
                         "reset_at": 1767000000},
      "secondary_window": {...}}}
"""

from __future__ import annotations

from typing import Any

from custom_providers.usage_reading import Window

PATHS = ("/backend-api/wham/usage", "/wham/usage", "/api/codex/usage")
# The plan names Codex CLI's decoder accepts; anything else would fail its /status.
PLANS = ("guest", "free", "go", "plus", "pro", "free_workspace", "team", "business", "education", "quorum", "k12",
         "enterprise", "edu")


def _window(window: Window | None, now: float) -> dict[str, int] | None:
    if window is None:
        return None
    minutes = window.window_minutes or 0
    reset = window.resets_at or now + minutes * 60
    return {
        "used_percent": int(round(min(100.0, max(0.0, window.used_percent)))),
        "limit_window_seconds": int(minutes * 60),
        "reset_after_seconds": max(0, int(reset - now)),
        "reset_at": int(reset),
    }


def usage_body(plan: str, five_hour: Window | None, weekly: Window | None, *, limit_reached: bool,
               now: float) -> dict[str, Any]:
    return {
        "plan_type": plan if plan in PLANS else "plus",
        "rate_limit": {
            "allowed": not limit_reached,
            "limit_reached": limit_reached,
            "primary_window": _window(five_hour, now),
            "secondary_window": _window(weekly, now),
        },
    }
