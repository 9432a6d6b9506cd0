"""Usage statistics as counters, so every process adds its increments instead of overwriting totals.

The shape is gateway/usage.py's saved dict: {"accounts": {id: {"email", "provider", "last_reset_seen",
"models": {model: {"requests", "input_tokens", ..., "errors": {kind: n}}}}}, "hours": [[hour, requests,
tokens, errors], ...], "recent_errors": [...]}. `merge` adds a delta to totals (the file store, under
its lock); `to_counters`/`from_counters` flatten it to one integer per field for Redis HINCRBY.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

SEP = "\x1f"  # never in an account id (hex), a model name or an error kind
FIELDS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
HOUR_FIELDS = ("requests", "tokens", "errors")
SERIES_HOURS = 24
RECENT_ERRORS = 50


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def empty() -> dict[str, Any]:
    return {"version": 1, "accounts": {}, "hours": [], "recent_errors": []}


def to_counters(delta: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for account_id, entry in (delta.get("accounts") or {}).items():
        if not isinstance(entry, Mapping):
            continue
        for model, cell in (entry.get("models") or {}).items():
            if not isinstance(cell, Mapping):
                continue
            for name in FIELDS:
                if _int(cell.get(name)):
                    out[SEP.join(("m", account_id, model, name))] = _int(cell.get(name))
            for kind, n in (cell.get("errors") or {}).items():
                if _int(n):
                    out[SEP.join(("e", account_id, model, str(kind)))] = _int(n)
    for row in delta.get("hours") or []:
        if isinstance(row, (list, tuple)) and len(row) == 4:
            for name, n in zip(HOUR_FIELDS, row[1:]):
                if _int(n):
                    out[SEP.join(("h", str(int(row[0])), name))] = _int(n)
    return out


def infos(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-account facts that are set, not counted (email, provider, last reset seen)."""
    out = {}
    for account_id, entry in (data.get("accounts") or {}).items():
        if isinstance(entry, Mapping):
            out[account_id] = {k: entry.get(k) for k in ("email", "provider", "last_reset_seen")}
    return out


def from_counters(counters: Mapping[str, Any], info: Mapping[str, Mapping[str, Any]],
                  errors: list[dict[str, Any]], now: float | None = None) -> dict[str, Any]:
    data = empty()
    accounts: dict[str, Any] = data["accounts"]
    hours: dict[int, list[int]] = {}
    horizon = int((time.time() if now is None else now) // 3600) * 3600 - SERIES_HOURS * 3600

    def account(account_id: str) -> dict[str, Any]:
        if account_id not in accounts:
            facts = info.get(account_id) or {}
            accounts[account_id] = {"email": str(facts.get("email") or ""), "provider": str(facts.get("provider") or ""),
                                    "last_reset_seen": facts.get("last_reset_seen"), "models": {}}
        return accounts[account_id]

    def cell(account_id: str, model: str) -> dict[str, Any]:
        models = account(account_id)["models"]
        if model not in models:
            models[model] = {**{name: 0 for name in FIELDS}, "errors": {}}
        return models[model]

    for key, value in counters.items():
        parts = (key.decode() if isinstance(key, bytes) else key).split(SEP)
        n = _int(value)
        if parts[0] == "m" and len(parts) == 4 and parts[3] in FIELDS:
            cell(parts[1], parts[2])[parts[3]] = n
        elif parts[0] == "e" and len(parts) == 4:
            cell(parts[1], parts[2])["errors"][parts[3]] = n
        elif parts[0] == "h" and len(parts) == 3 and parts[2] in HOUR_FIELDS:
            hour = _int(parts[1])
            if hour > horizon:
                hours.setdefault(hour, [0, 0, 0])[HOUR_FIELDS.index(parts[2])] = n
    for account_id in info:
        account(account_id)
    data["hours"] = [[h, *v] for h, v in sorted(hours.items())]
    data["recent_errors"] = list(errors)[-RECENT_ERRORS:]
    return data


def merge(total: Mapping[str, Any], delta: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """total + delta, both in the saved shape (the file store's merge under its lock)."""
    counters: dict[str, int] = to_counters(total)
    for key, n in to_counters(delta).items():
        counters[key] = counters.get(key, 0) + n
    facts = infos(total)
    for account_id, entry in infos(delta).items():
        merged = dict(facts.get(account_id) or {})
        merged.update({k: v for k, v in entry.items() if v not in (None, "")})
        facts[account_id] = merged
    errors = [e for e in (total.get("recent_errors") or []) if isinstance(e, dict)]
    errors += [e for e in (delta.get("recent_errors") or []) if isinstance(e, dict)]
    return from_counters(counters, facts, errors, now)
