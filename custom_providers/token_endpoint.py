"""Talking to an OAuth token endpoint: the retry and error rules both providers share.

A refresh can fail in three ways that the gateway must treat differently (gateway/errors.py):
the refresh token is dead (`RefreshTokenRejected`: only a new login helps, so never retry -- a retried
rotating token is exactly what gets an account flagged for reuse), the vendor asks us to slow down
(`RefreshRateLimited`, with how long), or the vendor/network is having a bad moment (`RefreshFailed`
after 3 attempts, 1 s and 2 s apart, as CLIProxyAPI HEAD does).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import httpx

from custom_providers.rate_limits import retry_after
from custom_providers.errors import LoginError, RefreshFailed, RefreshTokenRejected

RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0)
RATE_LIMIT_MIN_SECONDS = 5.0
RATE_LIMIT_MAX_SECONDS = 300.0
_REJECTION_MARKERS = (
    "invalid_grant",
    "refresh_token_reused",
    "refresh_token_expired",
    "refresh_token_invalidated",
    "refresh_token_revoked",
)


class RefreshRateLimited(RefreshFailed):
    """The token endpoint answered 429: do not touch this refresh token for `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_summary(response: httpx.Response) -> str:
    """A short, log-safe description of an error reply (error codes and messages, never the body)."""
    try:
        body: Any = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    parts: list[str] = []
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            parts += [str(err[k]) for k in ("code", "type", "message") if err.get(k)]
        elif err:
            parts.append(str(err))
        for key in ("error_description", "message", "detail"):
            if isinstance(body.get(key), str):
                parts.append(body[key])
    text = ": ".join(dict.fromkeys(parts))[:300]
    return f"HTTP {response.status_code}" + (f" {text}" if text else "")


def is_rejection(response: httpx.Response) -> bool:
    """Whether the reply says the refresh token itself is dead (invalid_grant, reused, revoked)."""
    if response.status_code == 401:
        return True
    if response.status_code not in (400, 403):
        return False
    text = response.text.lower()
    return any(marker in text for marker in _REJECTION_MARKERS)


def wait_seconds(response: httpx.Response, default: float = 60.0) -> float:
    """How long a rate-limited token endpoint asks us to wait, clamped to 5 s - 5 min like the reference."""
    now = time.time()
    until = retry_after(response.headers, now)
    seconds = default if until is None else until - now
    return min(max(seconds, RATE_LIMIT_MIN_SECONDS), RATE_LIMIT_MAX_SECONDS)


def token_reply(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of a 200 reply carrying an access token, else LoginError."""
    if response.status_code != 200:
        raise LoginError(f"{what} failed: {error_summary(response)}")
    try:
        body = response.json()
    except ValueError:
        raise LoginError(f"{what} failed: the reply is not JSON") from None
    if not isinstance(body, dict) or not body.get("access_token"):
        raise LoginError(f"{what} failed: the reply has no access_token")
    return body


async def refresh_with_retries(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    provider: str,
    delays: tuple[float, ...] = RETRY_DELAYS,
) -> dict[str, Any]:
    """POST a refresh (via `send`) and return the token reply, applying the shared retry rules."""
    last = "no attempt"
    for attempt in range(len(delays) + 1):
        if attempt:
            await asyncio.sleep(delays[attempt - 1])
        try:
            response = await send()
        except httpx.TransportError as exc:
            last = f"network error ({type(exc).__name__})"
            continue
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("access_token"):
                return body
            last = "a 200 reply without an access_token"
            continue
        if status == 429:
            wait = wait_seconds(response)
            raise RefreshRateLimited(f"{provider} token refresh rate-limited ({error_summary(response)}); "
                                     f"retry in {wait:.0f} s", wait)
        if is_rejection(response):
            raise RefreshTokenRejected(f"{provider} refused the refresh token ({error_summary(response)}); "
                                       f"log in again")
        if status < 500:
            raise RefreshFailed(f"{provider} token refresh failed: {error_summary(response)}")
        last = error_summary(response)
    raise RefreshFailed(f"{provider} token refresh failed after {len(delays) + 1} attempts: {last}")
