"""The gateway's live state in one object: settings, accounts, quota blocks, and the router sync.

LiteLLM instantiates the hook from a dotted path in the YAML, so the hook cannot be handed its state;
it asks `get_runtime()`. Both entry points build it in gateway/startup.py before LiteLLM builds its
Router.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx

from custom_providers.registry import Providers, registry
from gateway.config import ConfigError, GatewaySettings, load_settings, read_yaml, settings_from_yaml
from gateway.deployments import expand, pool_model_names
from gateway.headroom import HeadroomBook
from gateway.quota import QuotaBook
from gateway.selection import Selector
from gateway.token_store import Account, TokenStore
from gateway.usage import USAGE_FILE, UsageBook

log = logging.getLogger("subgate")

SCAN_INTERVAL = float(os.environ.get("SUBGATE_SCAN_INTERVAL", "5"))


@dataclass
class Runtime:
    settings: GatewaySettings
    providers: Providers
    templates: list[dict[str, Any]]
    store: TokenStore = field(init=False)
    quota: QuotaBook = field(default_factory=QuotaBook)
    headroom: HeadroomBook = field(default_factory=HeadroomBook)
    _http: httpx.AsyncClient | None = None
    _synced: tuple[int, int] = (-1, -1)
    _task: asyncio.Task | None = None
    pool_names: dict[str, str] = field(default_factory=dict)
    selector: Selector = field(default_factory=Selector)
    _config_mtime: int = 0
    _last_scan: float = 0.0
    _dir_stamp: int = -1

    def __post_init__(self) -> None:
        self.store = TokenStore(
            auth_dir=self.settings.auth_path,
            refreshers={p.name: self._refresher(p.name) for p in self.providers},
            refresh_leads={p.name: p.refresh_lead_seconds for p in self.providers},
        )
        self.quota = QuotaBook(shared_dir=self.settings.auth_path)
        self.headroom = HeadroomBook(shared_dir=self.settings.auth_path, read=self._usage_reading)
        self.selector = Selector(strategy=self.settings.routing_strategy, room=self.headroom.room,
                                 soft_limit=self.settings.soft_limit_percent)
        self.pool_names = pool_model_names(self.templates, self.api_bases)
        self.usage = UsageBook.load(self.settings.auth_path / USAGE_FILE)
        self.store.scan()
        self.store.sweep_temp_files()
        self.quota.load_shared()
        self.headroom.load_shared()
        self._config_mtime = self._config_stamp()

    # ---- providers -----------------------------------------------------------------------------
    @property
    def api_bases(self) -> dict[str, str]:
        return self.providers.api_bases()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        return self._http

    def _stored(self, refresh_token: str) -> dict[str, Any] | None:
        """The credential holding this refresh token: its email and ids fill what a refresh reply
        leaves out, so the provider does not look them up again (Claude's profile call)."""
        for acct in self.store.accounts():
            if acct.refresh_token == refresh_token:
                return acct.data
        return None

    def _refresher(self, name: str) -> Callable[[str], Awaitable[dict[str, Any]]]:
        async def refresh(refresh_token: str) -> dict[str, Any]:
            return await self.providers[name].refresh(self.http, refresh_token, self._stored(refresh_token))

        return refresh

    def _usage_reading(self, provider: str, headers: Any) -> Any:
        found = self.providers.get(provider)
        return found.usage_from_headers(headers) if found is not None else None

    # ---- models --------------------------------------------------------------------------------
    def provider_for_model(self, model: str) -> str | None:
        """Which subscription pool serves a public model name (exact entries first, then wildcards)."""
        if not model:
            return None
        if model in self.pool_names:
            return self.pool_names[model]
        for pattern, provider in self.pool_names.items():
            if "*" in pattern and fnmatch.fnmatchcase(model, pattern):
                return provider
        return None

    def usable_accounts(self, provider: str) -> list[Account]:
        return [a for a in self.store.accounts(provider) if a.usable]

    def serves(self, model: str) -> bool:
        """True when a logged-in, enabled account can serve this model name (blocked ones count)."""
        provider = self.provider_for_model(model)
        return provider is not None and bool(self.usable_accounts(provider))

    def listed_models(self) -> list[tuple[str, str]]:
        """(model name, provider) of explicit entries that some usable account serves."""
        return [
            (name, provider)
            for name, provider in self.pool_names.items()
            if "*" not in name and self.usable_accounts(provider)
        ]

    def earliest_reset(self, provider: str) -> float | None:
        resets = [self.quota.blocked_until(a.id) for a in self.usable_accounts(provider)]
        known = [r for r in resets if r is not None]
        if not known or len(known) < len(resets):
            return None
        return min(known)

    # ---- router --------------------------------------------------------------------------------
    def sync_router(self) -> None:
        """Give LiteLLM's router one deployment per (entry, account) whenever the accounts changed."""
        from gateway import litellm_app

        router = litellm_app.router()
        if router is None:
            return
        key = (id(router), self.store.generation)
        if key == self._synced:
            return
        model_list = expand(self.templates, self.store.accounts(), self.api_bases)
        litellm_app.replace_model_list(router, model_list)
        litellm_app.configure_retries(router, self.settings.request_retry)
        self._synced = key
        accounts = len(self.store.accounts())
        log.info("router: %d deployment%s for %d account%s", len(model_list), "" if len(model_list) == 1 else "s",
                 accounts, "" if accounts == 1 else "s")

    # ---- config reload -------------------------------------------------------------------------
    def _config_stamp(self) -> int:
        try:
            return Path(self.settings.config_path).stat().st_mtime_ns
        except OSError:
            return 0

    def reload_config_if_changed(self) -> bool:
        """Apply edits of the YAML without a restart (host, port and auth-dir still need one)."""
        stamp = self._config_stamp()
        if stamp == self._config_mtime or stamp == 0:
            return False
        self._config_mtime = stamp
        path = self.settings.config_path
        try:
            data = read_yaml(path)
            new = settings_from_yaml(data, config_path=path)
        except ConfigError as exc:
            log.warning("config change in %s not applied: %s", path, exc)
            return False
        old = self.settings
        self.settings = replace(new, host=old.host, port=old.port, auth_dir=old.auth_dir)
        for name in ("api_keys", "request_retry", "routing_strategy", "soft_limit_percent", "debug"):
            if getattr(old, name) != getattr(new, name):
                log.info("config reloaded: %s changed", name.replace("_", "-"))
        if old.amp != new.amp:
            log.info("config reloaded: amp settings changed (upstream-url %s -> %s)", old.amp.upstream_url or "-", new.amp.upstream_url or "-")
        self.selector.strategy = new.routing_strategy
        self.selector.soft_limit = new.soft_limit_percent
        providers_changed = old.providers != new.providers
        if providers_changed:
            self.providers = registry.configure(new.providers)
            self.store.refresh_leads = {p.name: p.refresh_lead_seconds for p in self.providers}
            for provider in self.providers:
                provider.register_litellm()
            log.info("config reloaded: provider settings changed (%s)",
                     ", ".join(n for n in self.providers.names() if old.provider(n) != new.provider(n)))
        templates = [dict(e) for e in data.get("model_list") or [] if isinstance(e, dict)]
        if templates != self.templates or old.request_retry != new.request_retry or providers_changed:
            self.templates = templates
            self.pool_names = pool_model_names(templates, self.api_bases)
            self._synced = (-1, -1)
            self.sync_router()
        return True

    def refresh_accounts(self, *, force: bool = False) -> None:
        """Pick up logins and removals since the last look.

        A login, a removal or a token rewrite (atomic rename) changes auth-dir's mtime, so one stat
        per request sees them at once; edits in place are caught by the scan-interval rescan.
        """
        now = time.monotonic()
        stamp = self.store.dir_stamp()
        if not force and stamp == self._dir_stamp and now - self._last_scan < SCAN_INTERVAL:
            return
        self._dir_stamp = stamp
        self._last_scan = now
        if self.store.scan():
            self.sync_router()

    # ---- background ----------------------------------------------------------------------------
    def ensure_started(self) -> None:
        if self._task is None or self._task.done():
            try:
                self._task = asyncio.get_running_loop().create_task(self._loop(), name="subgate-accounts")
            except RuntimeError:
                pass

    async def _loop(self) -> None:
        while True:
            try:
                self.refresh_accounts(force=True)
                self.quota.load_shared()
                self.headroom.load_shared()
                self.reload_config_if_changed()
                for acct in self.store.due_for_refresh():
                    lead = self.store.refresh_leads.get(acct.provider, 3600.0)
                    try:
                        await self.store.refresh(acct, lead=lead)
                    except Exception as exc:  # one account's failure must not stop the loop
                        log.warning("background refresh of %s failed: %s", acct.email, type(exc).__name__)
                await self._save_usage()
                await asyncio.to_thread(self.headroom.save_if_dirty)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("account loop error")
            await asyncio.sleep(SCAN_INTERVAL)

    async def _save_usage(self) -> None:
        from gateway.request_log import flush_parked

        flush_parked()
        snapshot = self.usage.snapshot_if_due()
        if snapshot is not None:
            await asyncio.to_thread(self.usage.write, snapshot)

    async def aclose(self) -> None:
        from gateway import litellm_app
        from gateway.request_log import flush_parked

        if self._task is not None:
            self._task.cancel()
        await litellm_app.flush_success_events()  # usage of the last requests, before it is saved
        flush_parked(0)
        self.usage.dirty = True  # the loop may have taken its last snapshot and been cancelled mid-write
        self.usage.save()
        self.headroom.save_if_dirty()
        if self._http is not None:
            await self._http.aclose()


_runtime: Runtime | None = None


def build_runtime(settings: GatewaySettings) -> Runtime:
    data = read_yaml(settings.config_path)
    templates = [dict(e) for e in data.get("model_list") or [] if isinstance(e, dict)]
    return Runtime(
        settings=settings,
        providers=registry.configure(settings.providers),
        templates=templates,
    )


def set_runtime(rt: Runtime | None) -> None:
    global _runtime
    _runtime = rt


def current_runtime() -> Runtime | None:
    return _runtime


def get_runtime() -> Runtime:
    """The runtime gateway/startup.py built; it exists before LiteLLM can call the hook."""
    if _runtime is None:
        raise RuntimeError("subgate has not started: gateway.startup.start() builds the runtime")
    return _runtime
