"""The gateway's live state: settings, providers, accounts, quota blocks and model pools.

The jobs around it live in their own modules: keeping LiteLLM's router in step with the accounts
(gateway/router_sync.py), applying edits of the YAML (gateway/config_reload.py) and the background
loop that refreshes tokens and saves usage (gateway/background.py).

LiteLLM instantiates the hook from a dotted path in the YAML, so the hook cannot be handed its state;
it asks `get_runtime()`. Both entry points build it in gateway/startup.py before LiteLLM builds its
Router.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import httpx

from custom_providers.registry import Providers, registry
from gateway.background import SCAN_INTERVAL, BackgroundTasks
from gateway.config import GatewaySettings, read_yaml
from gateway.config_reload import ConfigWatch
from gateway.deployments import pool_model_names
from gateway.headroom import HeadroomBook
from gateway.quota import QuotaBook
from gateway.router_sync import RouterSync
from gateway.selection import Selector
from gateway.store import Store, open_store
from gateway.token_store import Account, TokenStore
from gateway.usage import UsageBook

@dataclass
class Runtime:
    settings: GatewaySettings
    providers: Providers
    templates: list[dict[str, Any]]
    store: TokenStore = field(init=False)
    quota: QuotaBook = field(default_factory=QuotaBook)
    headroom: HeadroomBook = field(default_factory=HeadroomBook)
    _http: httpx.AsyncClient | None = None
    pool_names: dict[str, str] = field(default_factory=dict)
    selector: Selector = field(default_factory=Selector)
    router_sync: RouterSync = field(default_factory=RouterSync)
    config_watch: ConfigWatch = field(init=False)
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    _last_scan: float = 0.0
    _dir_stamp: int = -1

    def __post_init__(self) -> None:
        # Everything several workers or hosts share goes through this one store (gateway/store/).
        self.shared: Store = open_store(self.settings.store, self.settings.auth_path)
        self.store = TokenStore(
            auth_dir=self.settings.auth_path,
            refreshers={p.name: self._refresher(p.name) for p in self.providers},
            refresh_leads={p.name: p.refresh_lead_seconds for p in self.providers},
            backend=self.shared,
        )
        self.quota = QuotaBook(store=self.shared)
        self.headroom = HeadroomBook(read=self._usage_reading)  # shared through self.shared
        self.selector = Selector(strategy=self.settings.routing_strategy, room=self.headroom.room,
                                 pressure=self.headroom.pressure,
                                 soft_limit=self.settings.soft_limit_percent)
        self.pool_names = pool_model_names(self.templates, self.api_bases)
        self.usage = UsageBook(self.shared)
        self.store.scan()
        self.store.sweep_temp_files()
        self.config_watch = ConfigWatch(self.settings.config_path)

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

    def usage_view(self) -> UsageBook:
        """The whole gateway's usage (every worker's), for /metrics, /ui and the management API."""
        return self.usage  # every worker and host adds to the store's totals (gateway/usage.py)

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
        self.router_sync.sync(self)

    # ---- config reload -------------------------------------------------------------------------
    def reload_config_if_changed(self) -> bool:
        """Apply edits of the YAML without a restart (gateway/config_reload.py)."""
        return self.config_watch.reload_if_changed(self)

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
    async def start(self) -> None:
        """Before the first request: credentials, blocks and usage totals from the shared store."""
        await self.catch_up()
        await self.usage.start()

    async def catch_up(self) -> None:
        """Take in what other workers and hosts changed; push what waited for a store that was down."""
        await self.shared.pull()
        self.refresh_accounts(force=True)
        await self.quota.sync()
        await self.headroom.sync(self.shared)

    def ensure_started(self) -> None:
        self.background.ensure_started(self)

    async def aclose(self) -> None:
        await self.background.aclose(self)
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
