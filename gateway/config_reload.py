"""Applying edits of config/litellm.yaml while the gateway runs (the background loop looks every few seconds).

What can change live: client keys, retries, routing strategy, Amp settings, provider settings (each
provider is rebuilt from its `gateway.<name>:` block and re-installs its LiteLLM classes) and the model
list. host, port and auth-dir need a restart: the reload keeps the running values and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from custom_providers.registry import registry
from gateway.config import ConfigError, read_yaml, settings_from_yaml
from gateway.deployments import pool_model_names

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger("subgate")
RESTART_KEYS = ("host", "port", "auth_dir")


@dataclass
class ConfigWatch:
    path: str
    mtime: int = 0

    def __post_init__(self) -> None:
        self.mtime = self.stamp()

    def stamp(self) -> int:
        try:
            return Path(self.path).stat().st_mtime_ns
        except OSError:
            return 0

    def reload_if_changed(self, rt: "Runtime") -> bool:
        """Apply edits of the YAML without a restart (host, port and auth-dir still need one)."""
        stamp = self.stamp()
        if stamp == self.mtime or stamp == 0:
            return False
        self.mtime = stamp
        path = rt.settings.config_path
        try:
            data = read_yaml(path)
            new = settings_from_yaml(data, config_path=path)
        except ConfigError as exc:
            log.warning("config change in %s not applied: %s", path, exc)
            return False
        old = rt.settings
        rt.settings = replace(new, host=old.host, port=old.port, auth_dir=old.auth_dir)
        for name in RESTART_KEYS:
            if getattr(old, name) != getattr(new, name):
                log.warning("config change of %s needs a restart; still using %s", name.replace("_", "-"),
                            getattr(old, name))
        for name in ("api_keys", "request_retry", "routing_strategy", "soft_limit_percent", "debug"):
            if getattr(old, name) != getattr(new, name):
                log.info("config reloaded: %s changed", name.replace("_", "-"))
        if old.amp != new.amp:
            log.info("config reloaded: amp settings changed (upstream-url %s -> %s)", old.amp.upstream_url or "-", new.amp.upstream_url or "-")
        rt.selector.strategy = new.routing_strategy
        rt.selector.soft_limit = new.soft_limit_percent
        providers_changed = old.providers != new.providers
        if providers_changed:
            rt.providers = registry.configure(new.providers)
            rt.store.refresh_leads = {p.name: p.refresh_lead_seconds for p in rt.providers}
            log.info("config reloaded: provider settings changed (%s)",
                     ", ".join(n for n in rt.providers.names() if old.provider(n) != new.provider(n)))
        templates = [dict(e) for e in data.get("model_list") or [] if isinstance(e, dict)]
        if templates != rt.templates or old.request_retry != new.request_retry or providers_changed:
            rt.templates = templates
            rt.pool_names = pool_model_names(templates, rt.api_bases)
            rt.router_sync.invalidate()
            rt.sync_router()
        return True
