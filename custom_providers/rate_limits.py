"""When a rate-limited account may be used again, read from a 429 answer.

A subscription limit comes back in different places: the Codex backend puts `resets_at` /
`resets_in_seconds` in the JSON body, Anthropic sends `anthropic-ratelimit-unified-*-reset` headers,
and anything else may send `Retry-After` (seconds or an HTTP date) or `retry-after-ms`. LiteLLM
forwards upstream headers prefixed `llm_provider-`, which is stripped first.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any, Mapping


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
    return retry_after(lower, now)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """When to try again per `retry-after-ms`, else `Retry-After` (seconds or an HTTP date): the one
    Retry-After parser (a 429 from an upstream, a token endpoint that asks to wait)."""
    now = time.time() if now is None else now
    lower = {str(k).lower(): v for k, v in headers.items()}
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
