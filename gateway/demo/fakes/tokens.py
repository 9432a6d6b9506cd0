"""The token book shared by a fake OAuth server and the fake API that accepts its tokens.

Real upstreams rotate refresh tokens and allow each one exactly once (a second use answers
`refresh_token_reused` and, at OpenAI, can kill the login). The fakes share one `TokenBook` per vendor
so that a token issued by the fake OAuth server is what the fake API accepts, an expired access token
is refused, and every refresh-token reuse is counted for the tests to assert on.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from enum import Enum


class TokenStatus(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


class RefreshReused(Exception):
    """A refresh token was presented a second time."""


class RefreshUnknown(Exception):
    """A refresh token this book never issued (or one that was revoked)."""


@dataclass
class Grant:
    email: str
    account_id: str
    access_token: str
    refresh_token: str
    expires_at: float


@dataclass
class TokenBook:
    access_prefix: str = "sk-ant-oat01-"
    refresh_prefix: str = "sk-ant-ort01-"
    access_ttl: float = 3600.0
    _by_access: dict[str, Grant] = field(default_factory=dict)
    _live_refresh: dict[str, Grant] = field(default_factory=dict)
    _spent_refresh: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    refresh_calls: int = 0
    reuse_count: int = 0
    refreshes_by_email: dict[str, int] = field(default_factory=dict)

    def issue(self, email: str, account_id: str | None = None, *, ttl: float | None = None) -> Grant:
        with self._lock:
            return self._issue(email, account_id or f"acct-{secrets.token_hex(4)}", ttl)

    def _issue(self, email: str, account_id: str, ttl: float | None) -> Grant:
        grant = Grant(
            email=email,
            account_id=account_id,
            access_token=self.access_prefix + secrets.token_urlsafe(24),
            refresh_token=self.refresh_prefix + secrets.token_urlsafe(24),
            expires_at=time.time() + (self.access_ttl if ttl is None else ttl),
        )
        self._by_access[grant.access_token] = grant
        self._live_refresh[grant.refresh_token] = grant
        return grant

    def rotate(self, refresh_token: str, *, ttl: float | None = None) -> Grant:
        """Spend a refresh token; the old access token stops working, a new pair is issued."""
        with self._lock:
            self.refresh_calls += 1
            if refresh_token in self._spent_refresh:
                self.reuse_count += 1
                raise RefreshReused(refresh_token)
            old = self._live_refresh.pop(refresh_token, None)
            if old is None:
                raise RefreshUnknown(refresh_token)
            self._spent_refresh.add(refresh_token)
            self._by_access.pop(old.access_token, None)
            self.refreshes_by_email[old.email] = self.refreshes_by_email.get(old.email, 0) + 1
            return self._issue(old.email, old.account_id, ttl)

    def check(self, access_token: str) -> tuple[TokenStatus, Grant | None]:
        with self._lock:
            grant = self._by_access.get(access_token)
        if grant is None:
            return TokenStatus.UNKNOWN, None
        if grant.expires_at <= time.time():
            return TokenStatus.EXPIRED, grant
        return TokenStatus.VALID, grant

    def expire(self, access_token: str) -> None:
        with self._lock:
            grant = self._by_access.get(access_token)
            if grant is not None:
                grant.expires_at = time.time() - 1

    def expire_email(self, email: str) -> None:
        with self._lock:
            for grant in self._by_access.values():
                if grant.email == email:
                    grant.expires_at = time.time() - 1

    def revoke_refresh(self, refresh_token: str) -> None:
        with self._lock:
            self._live_refresh.pop(refresh_token, None)

    def revoke_email(self, email: str) -> None:
        """Kill every token of an account, as a password change or a logout elsewhere would."""
        with self._lock:
            for token, grant in list(self._live_refresh.items()):
                if grant.email == email:
                    del self._live_refresh[token]
            for token, grant in list(self._by_access.items()):
                if grant.email == email:
                    del self._by_access[token]
