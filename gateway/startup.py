"""Start-up shared by both entry points: providers registered, LiteLLM adjusted, the runtime built.

`python -m gateway.amp` calls `start(settings)` in gateway/server.py before it builds the Router.
Under `litellm --config`, LiteLLM's proxy resolves `gateway.hook.proxy_hook` (litellm_settings.callbacks)
while it loads the YAML, before it builds its Router; that attribute lookup calls `ensure_started()`,
which starts from the YAML the proxy is loading. Importing a gateway module changes nothing in LiteLLM.

A failure here stops start-up: StartupError is a ConfigError, which both entry points report as one
line ("subgate: ...") instead of serving with half of LiteLLM adjusted.
"""

from __future__ import annotations

import logging
import os

from custom_providers.registry import Providers
from gateway.config import ConfigError, GatewaySettings, load_settings
from gateway.runtime import Runtime, build_runtime, current_runtime, set_runtime

log = logging.getLogger("subgate")


class StartupError(ConfigError):
    """Something the gateway must install into LiteLLM could not be installed."""


def install(providers: Providers) -> None:
    """Each provider's LiteLLM classes, then the gateway's LiteLLM adjustments (idempotent)."""
    from gateway import litellm_app

    for provider in providers:
        try:
            provider.register_litellm()
        except Exception as exc:
            raise StartupError(
                f"the {provider.name} provider could not install itself into LiteLLM "
                f"{litellm_app.litellm_version()}: {type(exc).__name__}: {exc}"
            ) from exc
    try:
        litellm_app.install_router_patches()
    except Exception as exc:
        raise StartupError(
            f"LiteLLM {litellm_app.litellm_version()} could not be adjusted (subgate pins "
            f"{litellm_app.PINNED_LITELLM}): {type(exc).__name__}: {exc}"
        ) from exc


def start(settings: GatewaySettings) -> Runtime:
    """Build the runtime for `settings`, install providers and adjustments, make it the process's runtime."""
    rt = build_runtime(settings)
    install(rt.providers)
    set_runtime(rt)
    return rt


def ensure_started() -> Runtime:
    """The running gateway's runtime; under `litellm --config`, started here from the proxy's YAML."""
    rt = current_runtime()
    if rt is not None:
        return rt
    from gateway import litellm_app, litellm_log_filter
    from gateway.body_limit import BodyLimit

    if not logging.getLogger("subgate").handlers:  # `litellm --config`: gateway.amp configured no logging
        litellm_log_filter.install()
    path = os.environ.get("SUBGATE_CONFIG") or litellm_app.config_path()
    rt = start(load_settings(path))
    # gateway.max-body-mb holds in LiteLLM's proxy too: refused before LiteLLM reads the body
    litellm_app.wrap_proxy_app(BodyLimit, limit_mb=lambda: rt.settings.max_body_mb)
    # Codex CLI's Responses WebSocket is relayed by `python -m gateway.amp` only: 426 here, so it uses HTTP
    from gateway.websocket_refusal import RefuseResponsesWebSocket

    litellm_app.wrap_proxy_app(RefuseResponsesWebSocket, is_subscription_model=lambda m: bool(rt.provider_for_model(m)))
    return rt
