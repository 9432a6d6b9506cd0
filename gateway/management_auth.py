"""Who may use the operator routes: the management API, /metrics and the status page.

The management API can log accounts in and out and change client keys, so it is off unless a secret
is configured (remote-management.secret-key, stored bcrypt-hashed, or env MANAGEMENT_PASSWORD), local
callers only unless remote-management.allow-remote, judged by the socket peer (never a forwarded
header; uvicorn runs with proxy_headers off). Five wrong keys from one address ban it for 30 minutes.
bcrypt is slow on purpose (~0.2 s), so checks run in a worker thread and a key that matched once is
remembered by its SHA-256 for the life of the process.

/metrics and /ui are read-only: local callers need no key; remote callers need allow-remote and a key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import bcrypt
from starlette.types import Scope

from amp.localhost_guard import is_loopback_peer
from gateway.config import RemoteManagement

MAX_FAILURES = 5
BAN_SECONDS = 30 * 60.0
MAX_TRACKED_PEERS = 10_000
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")

NOT_ENABLED = (404, "not found")
REMOTE_DISABLED = (403, "remote management disabled")
MISSING_KEY = (401, "missing management key")
INVALID_KEY = (401, "invalid management key")


def is_bcrypt_hash(value: str) -> bool:
    return value.startswith(BCRYPT_PREFIXES)


def hash_secret(plaintext: str) -> str:
    return bcrypt.hashpw(plaintext.encode(), bcrypt.gensalt()).decode()


def presented_management_key(scope: Scope) -> str:
    """`Authorization: Bearer <k>` (or a bare Authorization value), else `X-Management-Key`."""
    auth = xkey = ""
    for name, value in scope.get("headers") or []:
        lname = name.lower()
        if lname == b"authorization":
            auth = value.decode("latin-1").strip()
        elif lname == b"x-management-key":
            xkey = value.decode("latin-1").strip()
    if auth:
        scheme, _, rest = auth.partition(" ")
        return rest.strip() if scheme.lower() == "bearer" and rest.strip() else auth
    return xkey


def go_duration(seconds: float) -> str:
    """Go's time.Duration text (what the reference prints in its ban message), to the second."""
    total = max(0, int(round(seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


@dataclass
class _Failures:
    count: int = 0
    banned_until: float = 0.0


@dataclass
class ManagementAuth:
    settings: Callable[[], RemoteManagement]
    password: str = field(default_factory=lambda: os.environ.get("MANAGEMENT_PASSWORD", ""))
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _verified: set[str] = field(default_factory=set)

    @property
    def enabled(self) -> bool:
        return bool(self.settings().secret_key or self.password)

    def _peer(self, scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    def banned_for(self, peer: str) -> float:
        entry = self._failures.get(peer)
        if entry is None or entry.banned_until <= self.clock():
            return 0.0
        return entry.banned_until - self.clock()

    def _fail(self, peer: str) -> None:
        if len(self._failures) > MAX_TRACKED_PEERS:  # many addresses guessing: forget the stale ones
            now = self.clock()
            for stale in [p for p, f in self._failures.items() if f.banned_until <= now]:
                del self._failures[stale]
        entry = self._failures.setdefault(peer, _Failures())
        if entry.banned_until and entry.banned_until <= self.clock():
            entry.count, entry.banned_until = 0, 0.0
        entry.count += 1
        if entry.count >= MAX_FAILURES:
            entry.banned_until = self.clock() + BAN_SECONDS

    async def key_matches(self, key: str) -> bool:
        ok = False
        if self.password:
            ok = hmac.compare_digest(key.encode(), self.password.encode())
        stored = self.settings().secret_key
        if not ok and stored:
            digest = hashlib.sha256(f"{stored}\0{key}".encode()).hexdigest()
            if digest in self._verified:
                return True
            if is_bcrypt_hash(stored):
                try:
                    ok = await asyncio.to_thread(bcrypt.checkpw, key.encode(), stored.encode())
                except ValueError:
                    ok = False
            else:  # not hashed yet (the write-back failed): still compare in constant time
                ok = hmac.compare_digest(key.encode(), stored.encode())
            if ok:
                self._verified.add(digest)
        return ok

    async def check_management(self, scope: Scope) -> tuple[int, str] | None:
        """None when the management request may proceed, else (status, message) in the reference wording."""
        if not self.enabled:
            return NOT_ENABLED
        return await self._check(scope)

    async def check_viewer(self, scope: Scope) -> tuple[int, str] | None:
        """/metrics and /ui: local callers pass; remote ones need allow-remote and a management key."""
        if is_loopback_peer(scope):
            return None
        if not self.enabled:
            return REMOTE_DISABLED
        return await self._check(scope)

    async def _check(self, scope: Scope) -> tuple[int, str] | None:
        local = is_loopback_peer(scope)
        if not local and not self.settings().allow_remote:
            return REMOTE_DISABLED
        peer = self._peer(scope)
        banned = self.banned_for(peer)
        if banned:
            return 403, f"IP banned due to too many failed attempts. Try again in {go_duration(banned)}"
        key = presented_management_key(scope)
        if not key:
            return MISSING_KEY
        if not await self.key_matches(key):
            self._fail(peer)
            return INVALID_KEY
        self._failures.pop(peer, None)
        return None
