"""The bodies Codex CLI reads for `/status`: `{chatgpt_base_url}/wham/usage` and `/wham/accounts/check`.

Codex CLI (codex-rs backend-client) decodes this strictly: `plan_type` must be one of the backend's plan
names, `rate_limit.allowed` / `limit_reached` are booleans, and each window's `used_percent`,
`limit_window_seconds`, `reset_after_seconds` and `reset_at` are integers (a float fails the whole
screen). `primary_window` is the 5-hour window and `secondary_window` the weekly one; either may be null
when nothing is known.

    {"plan_type": "plus", "rate_limit": {"allowed": true, "limit_reached": false,
      "primary_window": {"used_percent": 42, "limit_window_seconds": 18000, "reset_after_seconds": 3600,
                         "reset_at": 1767000000},
      "secondary_window": {...}}}

Before that, signed in with ChatGPT, Codex CLI (0.169, app-server account read) asks
`{chatgpt_base_url}/wham/accounts/check` which workspaces its login has and where each routes; it needs an
entry whose `id` is its own ChatGPT account id (the `ChatGPT-Account-Id` it sends), a
`workspace_backend_origin` ("NO_CONSTRAINT" or an https origin) and an `account_routing_override`
("NO_CONSTRAINT", "us" or "us_cr"). With "NO_CONSTRAINT" it keeps its own `chatgpt_base_url`, but only one
with an https origin: a plain-http base URL fails its check ("workspace backend must use an HTTPS origin
without credentials") before any /wham/usage request is made.
"""

from __future__ import annotations

from typing import Any

from custom_providers.usage_reading import Window

PATHS = ("/backend-api/wham/usage", "/wham/usage", "/api/codex/usage")
ACCOUNT_CHECK_PATHS = ("/backend-api/wham/accounts/check", "/wham/accounts/check", "/api/codex/accounts/check")
NO_CONSTRAINT = "NO_CONSTRAINT"
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


def accounts_check_body(account_id: str, plan: str) -> dict[str, Any]:
    """The caller's own workspace, routed nowhere else: Codex CLI then keeps the base URL it was given.
    Without an account id there is nothing to list (Codex sends one whenever it is signed in with ChatGPT)."""
    if not account_id:
        return {"accounts": [], "account_ordering": [], "default_account_id": None}
    entry = {
        "id": account_id, "name": None, "profile_picture_url": None, "structure": "personal",
        "plan_type": plan if plan in PLANS else "plus", "workspace_backend_origin": NO_CONSTRAINT,
        "account_routing_override": NO_CONSTRAINT, "is_deactivated": False, "can_access_with_session": True,
        "sso_connection_name": None, "is_fedramp_compliant_workspace": False,
    }
    return {"accounts": [entry], "account_ordering": [account_id], "default_account_id": account_id}
