"""LiteLLM's Router and global settings, built from the YAML without LiteLLM's proxy server.

`python -m gateway.amp` serves the model routes itself (gateway/model_routes.py) and calls the Router
directly, so it needs what the proxy's start-up would otherwise build: the `litellm_settings` applied
to the `litellm` module (the hook named in `callbacks`, `drop_params`, `request_timeout`) and a Router
made from `router_settings`. The deployments themselves come from the gateway (one per account,
gateway/deployments.py), so the Router starts empty and `Runtime.sync_router` fills it.

`litellm --config config/litellm.yaml` still builds both in LiteLLM's proxy; this module is not used there.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Mapping

from gateway import litellm_app  # noqa: F401  (sets LiteLLM's offline flags before it is imported)

import litellm  # noqa: E402
from litellm.router import Router  # noqa: E402

log = logging.getLogger("subgate")

# The deployments come from the gateway (gateway/deployments.py); the rest of `router_settings` goes to
# the Router as the proxy would pass it (retries included: subscription pools get the gateway's policy
# per request, gateway/litellm_app.py `scope_retries`, and API-key entries keep these).
_OWN_SETTINGS = frozenset({"model_list"})


def _resolve(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def apply_litellm_settings(settings: Mapping[str, Any]) -> None:
    """What the proxy does with `litellm_settings`: callbacks by dotted path, the rest as module attributes."""
    for key, value in settings.items():
        if key == "callbacks":
            names = value if isinstance(value, list) else [value]
            loaded = [_resolve(n) if isinstance(n, str) else n for n in names]
            litellm.callbacks = [*[c for c in litellm.callbacks if c not in loaded], *loaded]
        else:
            setattr(litellm, key, value)


def build_router(config: Mapping[str, Any]) -> Router:
    """A Router with the YAML's `router_settings` and no deployments yet, async clients only."""
    from litellm.types.router import RouterGeneralSettings

    apply_litellm_settings(config.get("litellm_settings") or {})
    valid = set(Router.get_valid_args())
    params: dict[str, Any] = {}
    for key, value in (config.get("router_settings") or {}).items():
        if key in valid and key not in _OWN_SETTINGS:
            params[key] = value
        elif key not in _OWN_SETTINGS:
            log.warning("router_settings.%s is not a Router setting; ignored", key)
    return Router(
        model_list=[],
        router_general_settings=RouterGeneralSettings(async_only_mode=True),
        ignore_invalid_deployments=True,
        **params,
    )


def forwarded_headers(config: Mapping[str, Any]) -> bool:
    """`general_settings.forward_client_headers_to_llm_api`, read the way the proxy reads it."""
    general = config.get("general_settings") or {}
    return bool(general.get("forward_client_headers_to_llm_api") is True)


async def route_attempts(router: Router, model: str, attempt: Any, **kwargs: Any) -> Any:
    """The Router's generic call: it picks a deployment for `model` (the hook's account filter), calls
    `attempt(**kwargs)` with that deployment's `litellm_params` and `model_info`, and retries or fails over
    on its exceptions by its retry policy. It is how LiteLLM routes its own generic calls (files,
    realtime, the Responses WebSocket); the gateway's Responses WebSocket relay uses it so each turn's
    account is the Router's choice (gateway/responses_websocket.py; tests/contract/test_route_attempts.py)."""
    return await router._ageneric_api_call_with_fallbacks(model=model, original_function=attempt, **kwargs)
