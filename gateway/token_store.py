"""Subscription accounts on disk: one CLIProxyAPI-compatible JSON file per account in auth-dir.

Where the files live is the storage seam's business (gateway/store/): auth-dir by default, Redis for
several hosts. Refresh tokens rotate and are single-use: spending one twice gets `refresh_token_reused`
and can kill the login. So every refresh runs under a per-account asyncio lock (single flight in this
process) and the store's refresh lock (a file lock beside the token file, or a Redis lease shared by
every host), and re-reads the credential after taking the lock: if someone else already refreshed,
their token is used instead of spending ours. A refresh that cannot take the lock (Redis down) fails
rather than risk a second spend. A refresh after an upstream 401 only happens when the token that
failed is still the account's current one. The rotated refresh token is always written back (atomic
temp-file + fsync + rename, mode 0600), unknown keys are kept, and a refresh token the server rejects
marks the account needs-login until a new login rewrites the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from custom_providers.credentials import parse_rfc3339, rfc3339
from gateway.credential_files import fix_for
from gateway.logging_setup import GATEWAY_WIDE
from custom_providers.errors import RefreshFailed, RefreshTokenRejected
from gateway.errors import NeedsLogin
from gateway.store import Store, StoreUnavailable
from gateway.store.files import FileStore

log = logging.getLogger("subgate.accounts")

RefreshFn = Callable[[str], Awaitable[dict[str, Any]]]
"""refresh(refresh_token) -> credential fields to merge; raises RefreshTokenRejected / RefreshFailed."""

EXPIRY_SKEW_SECONDS = 60.0
FAILED_REFRESH_HOLDOFF = 300.0
STORE_HOLDOFF = 5.0
# Fingerprint of the refresh token the server refused, kept in the credential file so other workers and
# `python -m gateway accounts` see needs-login too; a new login (another refresh token) no longer matches.
NEEDS_LOGIN_KEY = "subgate_needs_login"


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass
class Account:
    provider: str
    path: Path
    data: dict[str, Any]
    mtime_ns: int = 0
    needs_login: bool = False
    rejected_refresh_token: str | None = None
    last_error: str = ""
    refresh_holdoff_until: float = 0.0
    refresh_failures: int = 0

    @cached_property
    def id(self) -> str:
        """Stable and opaque: it ends up in router deployment ids, which LiteLLM puts in response ids."""
        return hashlib.sha256(self.path.name.encode()).hexdigest()[:12]

    @property
    def email(self) -> str:
        return str(self.data.get("email") or self.path.stem)

    @property
    def access_token(self) -> str:
        return str(self.data.get("access_token") or "")

    @property
    def refresh_token(self) -> str:
        return str(self.data.get("refresh_token") or "")

    @property
    def account_id(self) -> str:
        return str(self.data.get("account_id") or "")

    @property
    def plan(self) -> str:
        # Codex: plan_type; Claude: subscription_type as `import claude` saves it (Claude Code's subscriptionType)
        return str(self.data.get("plan_type") or self.data.get("subscription_type")
                   or self.data.get("subscriptionType") or "")

    @property
    def expires_at(self) -> float | None:
        raw = self.data.get("expired")
        cached = self.__dict__.get("_expiry_cache")
        if cached is None or cached[0] != raw:  # parsed once per value, not on every request
            cached = (raw, parse_rfc3339(raw))
            self.__dict__["_expiry_cache"] = cached
        return cached[1]

    @property
    def disabled(self) -> bool:
        return bool(self.data.get("disabled", False))

    @property
    def priority(self) -> int:
        try:
            return int(self.data.get("priority", 0))
        except (TypeError, ValueError):
            return 0

    @property
    def usable(self) -> bool:
        return not self.needs_login and not self.disabled and bool(self.access_token or self.refresh_token)

    def expired(self, skew: float = EXPIRY_SKEW_SECONDS) -> bool:
        exp = self.expires_at
        return exp is None or exp - skew <= time.time()

    @property
    def state(self) -> str:
        if self.disabled:
            return "disabled"
        if self.needs_login:
            return "needs-login"
        if self.expired(0) and not self.refresh_token:
            return "expired"
        return "ok"


def gateway_run() -> str:
    """Names one start of the gateway, shared by its workers (set by gateway/amp.py before they start)."""
    return os.environ.get("SUBGATE_RUN") or str(os.getpid())


def credential_filename(cred: Mapping[str, Any]) -> str:
    """The reference system's names: claude-<email>.json, codex-<email>.json."""
    provider = str(cred.get("type") or "")
    email = str(cred.get("email") or "").strip()
    if not provider or not email or "/" in email or email.startswith("."):
        raise ValueError("a credential needs a type and an email to be saved")
    return f"{provider}-{email}.json"


@dataclass
class TokenStore:
    auth_dir: Path
    refreshers: Mapping[str, RefreshFn]
    refresh_leads: Mapping[str, float] = field(default_factory=dict)
    on_change: Callable[[], None] | None = None
    backend: Store | None = None
    _accounts: dict[str, Account] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _dir_signature: tuple = ()
    generation: int = 0
    problems: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong with it
    # False for readers that show what they found themselves (the CLI tools, the start banner)
    log_changes: bool = True
    _problem_stamps: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend is None:
            self.backend = FileStore(self.auth_dir)

    @property
    def shared(self) -> Store:
        assert self.backend is not None
        return self.backend

    # ---- loading -------------------------------------------------------------------------------
    def ensure_dir(self) -> None:
        self.auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            if self.auth_dir.stat().st_mode & 0o077:
                os.chmod(self.auth_dir, 0o700)
        except OSError:
            pass

    def sweep_temp_files(self, older_than: float = 60.0) -> int:
        """Remove temp files left by a process killed mid-write (the target file is always intact)."""
        removed = 0
        cutoff = time.time() - older_than
        for tmp in self.auth_dir.glob(".*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
            except OSError:
                pass
        return removed

    def dir_stamp(self) -> Any:
        return self.shared.change_stamp()

    def _signature(self) -> tuple:
        return tuple(sorted(self.shared.credential_stamps().items()))

    def scan(self) -> bool:
        """Load new/changed/removed files; True when the set of usable accounts may have changed."""
        signature = self._signature()
        if signature == self._dir_signature:
            return False
        self._dir_signature = signature
        seen: set[str] = set()
        changed = False
        names = {name for name, _ in signature}
        for gone in set(self.problems) - names:
            self.problems.pop(gone, None)
        for name, mtime in signature:
            path = self.auth_dir / name
            acct = self._accounts.get(name)
            if acct is not None and acct.mtime_ns == mtime:
                seen.add(name)
                continue
            if name.startswith("."):
                continue  # the gateway's own state files
            data, problem = self.shared.inspect_credential(name, self.refreshers)
            if problem:
                self._report_problem(path, mtime, problem)
                if acct is not None:  # keep serving with what was read before it broke
                    seen.add(name)
                continue
            self.problems.pop(name, None)
            if data is None:
                continue
            provider = str(data.get("type") or "")
            if provider not in self.refreshers:
                continue
            seen.add(name)
            if acct is None:
                acct = Account(provider=provider, path=path, data=data, mtime_ns=mtime)
                self._accounts[name] = acct
                if self.log_changes:
                    log.info("account loaded: %s %s", provider, acct.email, extra=GATEWAY_WIDE)
            self._apply_disk(acct, data, mtime)
            changed = True
        for name in set(self._accounts) - seen:
            if self.log_changes:
                log.info("account removed: %s", self._accounts[name].email, extra=GATEWAY_WIDE)
            del self._accounts[name]
            changed = True
        if changed:
            self.generation += 1
            if self.on_change:
                self.on_change()
        return changed

    def _report_problem(self, path: Path, mtime: int, problem: str) -> None:
        """Logged once per change of the file, not on every rescan."""
        if self._problem_stamps.get(path.name) == mtime:
            return
        self._problem_stamps[path.name] = mtime
        self.problems[path.name] = problem
        if not self.log_changes or not self.shared.first_to_report(path.name, mtime, gateway_run()):
            return  # another worker of this gateway said it already
        log.warning("credential file %s %s; it is left out until fixed. Fix: %s", path.name, problem,
                    fix_for(path, sorted(self.refreshers)))

    def _read(self, path: Path) -> dict[str, Any] | None:
        return self.shared.read_credential(path.name)

    def _stamp(self, acct: Account) -> Any:
        return self.shared.credential_stamps().get(acct.path.name, acct.mtime_ns)

    def _apply_disk(self, acct: Account, data: dict[str, Any], mtime: Any) -> None:
        acct.data = data
        acct.mtime_ns = mtime
        marker = data.get(NEEDS_LOGIN_KEY)
        if marker and acct.refresh_token and marker == token_fingerprint(acct.refresh_token):
            acct.needs_login = True  # refused earlier, maybe by another process
            acct.rejected_refresh_token = acct.refresh_token
        elif acct.needs_login and data.get("refresh_token") != acct.rejected_refresh_token:
            acct.needs_login = False
            acct.rejected_refresh_token = None
            log.info("account %s has a new login; needs-login cleared", acct.email)

    async def _reload(self, acct: Account) -> None:
        """The authoritative copy, under the refresh lock: another process or host may have refreshed."""
        data = await self.shared.fetch_credential(acct.path.name)
        if data is not None and data != acct.data:
            self._apply_disk(acct, data, self._stamp(acct))

    # ---- queries -------------------------------------------------------------------------------
    def accounts(self, provider: str | None = None) -> list[Account]:
        return sorted(
            (a for a in self._accounts.values() if provider is None or a.provider == provider),
            key=lambda a: a.path.name,
        )

    def get(self, account_id: str) -> Account | None:
        for acct in self._accounts.values():  # a handful of accounts; ids are cached per Account
            if acct.id == account_id:
                return acct
        return None

    def find(self, provider: str, email: str) -> Account | None:
        for acct in self._accounts.values():
            if acct.provider == provider and acct.email.lower() == email.lower():
                return acct
        return None

    # ---- saving --------------------------------------------------------------------------------
    def save_credential(self, cred: Mapping[str, Any]) -> Path:
        """Persist a fresh login; an existing file for the same account keeps its unknown keys."""
        self.ensure_dir()
        path = self.auth_dir / credential_filename(cred)
        existing = self._read(path) or {}
        merged = {**existing, **{k: v for k, v in cred.items() if v is not None}}
        merged.pop(NEEDS_LOGIN_KEY, None)  # a fresh login is the cure
        self.shared.put_credential_soon(path.name, merged)
        self.scan()
        return path

    def update_fields(self, acct: Account, fields: Mapping[str, Any]) -> None:
        data = self._read(acct.path) or dict(acct.data)
        data.update(fields)
        self.shared.put_credential_soon(acct.path.name, data)
        self._apply_disk(acct, data, self._stamp(acct))

    def delete(self, acct: Account) -> None:
        self.shared.delete_credential_soon(acct.path.name)
        self.scan()

    # ---- tokens --------------------------------------------------------------------------------
    def _lock(self, acct: Account) -> asyncio.Lock:
        lock = self._locks.get(acct.path.name)
        if lock is None:
            lock = self._locks[acct.path.name] = asyncio.Lock()
        return lock

    async def token(self, acct: Account) -> str:
        """The account's access token, refreshed first when it is (about to be) expired."""
        if acct.needs_login:
            raise NeedsLogin(f"{acct.provider} account {acct.email} needs a new login")
        if acct.access_token and not acct.expired():
            return acct.access_token
        await self.refresh(acct)
        return acct.access_token

    async def refresh(self, acct: Account, *, failed_token: str | None = None, lead: float | None = None) -> bool:
        """Refresh once, however many callers ask at the same time. True when a refresh happened here.

        failed_token: the access token an upstream just refused; if the account has moved on to a
        newer token meanwhile, nothing is spent. lead: refresh if expiry is within this many seconds
        (the background loop); default: only when expired.
        """
        failures_before = acct.refresh_failures
        async with self._lock(acct):
            if self._fresh_enough(acct, failed_token, lead):
                return False
            if acct.refresh_failures != failures_before:
                # The refresh this caller queued behind just failed: share its outcome instead of
                # hitting a failing token endpoint once per waiting request.
                raise RefreshFailed(acct.last_error or f"{acct.provider} token refresh failed")
            self.ensure_dir()
            try:
                async with self.shared.refresh_lock(acct.path.name, timeout=60):
                    await self._reload(acct)  # another process may have refreshed while we waited
                    if self._fresh_enough(acct, failed_token, lead):
                        return False
                    if acct.needs_login:
                        raise NeedsLogin(f"{acct.provider} account {acct.email} needs a new login")
                    if time.time() < acct.refresh_holdoff_until and failed_token is None and not acct.expired(0):
                        return False
                    return await self._spend(acct)
            except StoreUnavailable as exc:
                # Refreshing without the shared lock could spend the refresh token a second time.
                # The background loop waits a little; a request that needs the token still asks.
                acct.refresh_holdoff_until = time.time() + STORE_HOLDOFF
                raise RefreshFailed(f"the {acct.provider} token of {acct.email} cannot be refreshed safely now: "
                                    f"{exc}") from None

    def _fresh_enough(self, acct: Account, failed_token: str | None, lead: float | None) -> bool:
        if acct.needs_login:
            return False
        if failed_token is not None:
            return bool(acct.access_token) and acct.access_token != failed_token
        return bool(acct.access_token) and not acct.expired(EXPIRY_SKEW_SECONDS if lead is None else lead)

    async def _spend(self, acct: Account) -> bool:
        refresher = self.refreshers[acct.provider]
        if not acct.refresh_token:
            self._mark_needs_login(acct, "no refresh token in the credential file")
            raise NeedsLogin(f"{acct.provider} account {acct.email} needs a new login")
        spent = acct.refresh_token
        try:
            fields = await refresher(spent)
        except RefreshTokenRejected as exc:
            self._mark_needs_login(acct, str(exc))
            raise NeedsLogin(f"{acct.provider} account {acct.email} needs a new login") from exc
        except RefreshFailed as exc:
            acct.refresh_failures += 1
            acct.last_error = str(exc)
            acct.refresh_holdoff_until = time.time() + FAILED_REFRESH_HOLDOFF
            log.warning("refresh failed for %s (%s): %s", acct.email, acct.provider, type(exc).__name__)
            raise
        data = dict(self._read(acct.path) or acct.data)
        data.update({k: v for k, v in fields.items() if v not in (None, "")})
        if not data.get("refresh_token"):
            data["refresh_token"] = spent
        data["last_refresh"] = rfc3339()
        data.setdefault("type", acct.provider)
        await self.shared.put_credential(acct.path.name, data)
        self._apply_disk(acct, data, self._stamp(acct))
        acct.last_error = ""
        acct.refresh_holdoff_until = 0.0
        log.info("account refreshed: %s %s, expires %s", acct.provider, acct.email, data.get("expired"))
        return True

    def _mark_needs_login(self, acct: Account, reason: str) -> None:
        if not acct.needs_login:
            log.warning(
                "account needs login: %s %s (the refresh token was rejected). Run `python -m gateway login %s`.",
                acct.provider,
                acct.email,
                acct.provider,
            )
        acct.needs_login = True
        acct.rejected_refresh_token = acct.refresh_token
        acct.last_error = reason[:200]
        if acct.refresh_token:
            try:
                data = dict(self._read(acct.path) or acct.data)
                if data.get("refresh_token") == acct.refresh_token:
                    data[NEEDS_LOGIN_KEY] = token_fingerprint(acct.refresh_token)
                    self.shared.put_credential_soon(acct.path.name, data)
                    acct.data, acct.mtime_ns = data, self._stamp(acct)
            except OSError as exc:
                log.warning("could not record needs-login in %s: %s", acct.path.name, type(exc).__name__)
        self.generation += 1
        if self.on_change:
            self.on_change()

    def due_for_refresh(self) -> list[Account]:
        out = []
        for acct in self._accounts.values():
            lead = self.refresh_leads.get(acct.provider, 3600.0)
            if acct.usable and acct.refresh_token and acct.expired(lead) and time.time() >= acct.refresh_holdoff_until:
                out.append(acct)
        return out
