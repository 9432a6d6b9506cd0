"""The router the gateway keeps in step, and every LiteLLM Router internal we lean on.

`python -m gateway.amp` never imports the proxy server (gateway/model_routes.py calls the Router
that gateway/router_setup.py built and `use_router` registered); under `litellm --config` the
proxy's module-global router is used, found through `sys.modules` so this module never imports it.

Importing `litellm` fetches the model cost map from the internet and the first /v1/messages fetches
the beta-header table, unless two environment flags are set first; they are set here, before the
import. The other internals the gateway depends on (the module-global router, the router's
sleep-before-retry) are reached only through this module, so a LiteLLM upgrade that moves them fails
in tests/contract/test_litellm_surface.py instead of in production.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "true")
os.environ.setdefault("LITELLM_DONT_SHOW_FEEDBACK_BOX", "true")
os.environ.setdefault("DISABLE_SCHEMA_UPDATE", "true")

import litellm  # noqa: E402
from litellm.router import Router  # noqa: E402

from gateway import litellm_tuning  # noqa: E402

PINNED_LITELLM = "1.108.7"
_PROXY_MODULE = "litellm.proxy.proxy_server"
_own_router: Router | None = None


def use_router(llm_router: Router | None) -> None:
    """The gateway's own Router (built without the proxy) is the one the hook and runtime keep in step."""
    global _own_router
    _own_router = llm_router


def router() -> Router | None:
    """The gateway's own Router, else the proxy's (a module global LiteLLM replaces at start-up and reload)."""
    if _own_router is not None:
        return _own_router
    proxy_server = sys.modules.get(_PROXY_MODULE)
    return getattr(proxy_server, "llm_router", None) if proxy_server is not None else None


def config_path() -> str | None:
    """The YAML the proxy loaded (litellm --config sets this global rather than an env var)."""
    proxy_server = sys.modules.get(_PROXY_MODULE)
    loaded = getattr(proxy_server, "user_config_file_path", None) if proxy_server is not None else None
    return loaded or os.environ.get("CONFIG_FILE_PATH")


def wrap_proxy_app(layer: Any, **options: Any) -> bool:
    """Put an ASGI layer outermost around LiteLLM's proxy app (`litellm --config`); False without the proxy.

    The gateway starts from the proxy's lifespan (gateway/startup.py), and Starlette builds an app's
    middleware stack on the first ASGI call, the lifespan's included, after which `add_middleware`
    is refused. So the built stack is wrapped in place; Starlette reads `app.middleware_stack` on
    every call. Before the first call (an in-process proxy not yet serving) it is added as middleware.
    """
    proxy_server = sys.modules.get(_PROXY_MODULE)
    app = getattr(proxy_server, "app", None) if proxy_server is not None else None
    if app is None:
        return False
    wrapped = app.__dict__.setdefault("_subgate_layers", set())
    if layer in wrapped:
        return True
    if app.middleware_stack is None:
        app.add_middleware(layer, **options)
    else:
        app.middleware_stack = layer(app.middleware_stack, **options)
    wrapped.add(layer)
    return True


def replace_model_list(llm_router: Router, model_list: list[dict[str, Any]]) -> None:
    """Swap every deployment; wildcard patterns are kept in a separate matcher that
    `set_model_list` only appends to, so it is rebuilt here first."""
    from litellm.router_utils.pattern_match_deployments import PatternMatchRouter

    llm_router.pattern_router = PatternMatchRouter()
    litellm_tuning.note_deployments(model_list)
    llm_router.set_model_list(model_list)
    litellm_tuning.forget_model_capabilities()


def retry_policy(retries: int) -> dict[str, int]:
    """`gateway.request-retry` extra attempts on other accounts for account-level failures
    (401 after a refresh, 403, 408, 429, 5xx, connection errors); client mistakes never retry.
    LiteLLM's `RetryPolicy` fields as a plain mapping (LiteLLM accepts one): the request's data is
    serialised by LiteLLM's proxy, which a pydantic object would break."""
    return {
        "BadRequestErrorRetries": 0,
        "NotFoundErrorRetries": 0,
        "ContentPolicyViolationErrorRetries": 0,
        "AuthenticationErrorRetries": max(1, retries),
        "RateLimitErrorRetries": retries,
        "TimeoutErrorRetries": retries,
        "InternalServerErrorRetries": retries,
        "ServiceUnavailableErrorRetries": retries,
        "DefaultRetries": retries,
    }


def scope_retries(data: dict[str, Any], model: str, retries: int) -> None:
    """Give one request to a subscription pool the gateway's retry policy, through LiteLLM's per-request
    `model_group_retry_policy` (the Router reads and removes it), keyed by the name asked for, so
    wildcard pools are covered too. Called by the hook's proxy-side entry for subscription pools only:
    API-key model groups keep the Router's own `num_retries` / `retry_policy` from the YAML
    (tests/contract/test_litellm_retries.py). A policy the request already carries (a key's or team's,
    under `litellm --config`) wins for its model."""
    policies = dict(data.get("model_group_retry_policy") or {})
    policies.setdefault(model, retry_policy(retries))
    data["model_group_retry_policy"] = policies


def _sleep_before_retry(original: Any) -> Any:
    def no_sleep_for_subscriptions(self: Router, *args: Any, **kwargs: Any) -> float:
        # Stock LiteLLM sleeps the upstream retry-after (minutes for a quota 429) while holding the
        # client when no other deployment is healthy. For subscription pools the gateway moves a
        # request to the next account at once and answers 429 + Retry-After when none is left, so
        # the wait is zero; an API-key model group keeps LiteLLM's own back-off.
        deployments = [*(kwargs.get("all_deployments") or []), *(kwargs.get("healthy_deployments") or [])]
        if any((d.get("model_info") or {}).get("gw_account") for d in deployments if isinstance(d, dict)):
            return 0
        return original(self, *args, **kwargs)

    no_sleep_for_subscriptions.__wrapped__ = original  # type: ignore[attr-defined]
    return no_sleep_for_subscriptions


def install_router_patches() -> None:
    """Idempotent; called by gateway/startup.py for both entry points."""
    litellm_tuning.apply()
    if getattr(Router._time_to_sleep_before_retry, "__name__", "") != "no_sleep_for_subscriptions":
        Router._time_to_sleep_before_retry = _sleep_before_retry(Router._time_to_sleep_before_retry)  # type: ignore[method-assign]


async def flush_success_events(timeout: float = 5.0) -> None:
    """Wait for LiteLLM's logging worker to deliver the success events still queued (the hook
    records usage from them), so a shutdown saves the statistics of every finished request."""
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

    try:
        await asyncio.wait_for(GLOBAL_LOGGING_WORKER.flush(), timeout)
    except asyncio.TimeoutError:
        pass


def litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


__all__ = ["litellm", "use_router", "router", "config_path", "replace_model_list", "retry_policy", "scope_retries", "install_router_patches", "PINNED_LITELLM", "litellm_version"]
