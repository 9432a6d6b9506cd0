"""How an account looks to its operator: one dict shared by the management API, /ui and /metrics."""

from __future__ import annotations

import time
from typing import Any

from custom_providers.credentials import rfc3339
from gateway.token_store import Account

STATES = ("ok", "blocked", "needs-login", "disabled", "expired")


def account_state(rt: Any, acct: Account, now: float | None = None) -> str:
    if acct.disabled:
        return "disabled"
    if acct.needs_login:
        return "needs-login"
    if rt.quota.blocked_until(acct.id, now) is not None:
        return "blocked"
    return acct.state  # ok / expired (no refresh token left)


def _time(ts: float | None) -> str | None:
    return rfc3339(ts) if ts else None


def account_view(rt: Any, acct: Account, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    blocked_until = rt.quota.blocked_until(acct.id, now)
    info = rt.usage_view().accounts.get(acct.id)
    last_reset = info.last_reset_seen if info is not None else None
    last_reset = last_reset or rt.quota.last_reset_seen.get(acct.id)
    usage = rt.usage_view().account_total(acct.id).as_dict()
    block = rt.quota.blocks.get(acct.id)
    return {
        "id": acct.id,
        "provider": acct.provider,
        "email": acct.email,
        "file": acct.path.name,
        "state": account_state(rt, acct, now),
        "plan": acct.plan,
        "priority": acct.priority,
        "expires_at": _time(acct.expires_at),
        "blocked_until": _time(blocked_until),
        "blocked_reason": block.reason if block is not None and blocked_until else "",
        "resets_in_seconds": max(0, int(blocked_until - now)) if blocked_until else None,
        "last_reset_seen": _time(last_reset),
        "last_refresh": acct.data.get("last_refresh") or None,
        "last_error": acct.last_error,
        "usage": usage,
        # 5-hour and weekly windows from the upstream's latest usage headers (None until the first answer)
        "limits": rt.headroom.view(acct.id, now),
    }
