"""The one place that reaches LiteLLM's proxy app in-process, and every LiteLLM internal we lean on.

`python -m gateway.amp` never imports the proxy server (gateway/model_routes.py calls the Router
that gateway/router_setup.py built and `use_router` registered); under `litellm --config` the
proxy's module-global router is used. The proxy module is imported only by `proxy_app`.

Importing `litellm` fetches the model cost map from the internet and the first /v1/messages fetches
the beta-header table, unless two environment flags are set first; they are set here, before the
import. The other internals the gateway depends on (the module-global router, the router's
sleep-before-retry) are reached only through this module, so a LiteLLM upgrade that moves them fails
in tests/contract/test_litellm_surface.py instead of in production.
"""

from __future__ import annotations

import logging
import os
import re
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


def proxy_app(config_path: str) -> Any:
    """LiteLLM's FastAPI app; its startup event reads the YAML named by CONFIG_FILE_PATH."""
    from litellm.proxy import proxy_server

    os.environ["CONFIG_FILE_PATH"] = str(config_path)
    quiet_proxy_prints()
    install_router_patches()
    trust_front_layer_auth(proxy_server.app)
    return proxy_server.app


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_print_log = logging.getLogger("subgate.litellm")


def _proxy_print(*args: Any, **kwargs: Any) -> None:
    text = _ANSI.sub("", " ".join(str(a) for a in args)).strip()
    if text:
        _print_log.debug("%s", text)


def quiet_proxy_prints() -> None:
    """LiteLLM's proxy print()s its model list in colour escape codes at start; the gateway's banner
    says what it serves instead, so those lines go to the debug log, plain. A module-level `print`
    shadows the builtin for that module only."""
    from litellm.proxy import proxy_server

    proxy_server.print = _proxy_print  # type: ignore[attr-defined]


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


def replace_model_list(llm_router: Router, model_list: list[dict[str, Any]]) -> None:
    """Swap every deployment; wildcard patterns are kept in a separate matcher that
    `set_model_list` only appends to, so it is rebuilt here first."""
    from litellm.router_utils.pattern_match_deployments import PatternMatchRouter

    llm_router.pattern_router = PatternMatchRouter()
    llm_router.set_model_list(model_list)
    litellm_tuning.forget_model_capabilities()


def configure_retries(llm_router: Router, retries: int) -> None:
    """`gateway.request-retry` extra attempts on other accounts for account-level failures
    (401 after a refresh, 403, 408, 429, 5xx, connection errors); client mistakes never retry.
    401s must not cool an account's deployments: a burst of expired tokens would cool them all."""
    from litellm.types.router import AllowedFailsPolicy, RetryPolicy

    llm_router.num_retries = retries
    llm_router.retry_policy = RetryPolicy(
        BadRequestErrorRetries=0,
        NotFoundErrorRetries=0,
        ContentPolicyViolationErrorRetries=0,
        AuthenticationErrorRetries=max(1, retries),
        RateLimitErrorRetries=retries,
        TimeoutErrorRetries=retries,
        InternalServerErrorRetries=retries,
        ServiceUnavailableErrorRetries=retries,
        DefaultRetries=retries,
    )
    llm_router.allowed_fails_policy = AllowedFailsPolicy(AuthenticationErrorAllowedFails=1_000_000)


def _no_sleep_before_retry(self: Router, *args: Any, **kwargs: Any) -> float:
    # Stock LiteLLM sleeps the upstream retry-after (minutes for a quota 429) while holding the
    # client when no other deployment is healthy. The gateway moves a request to the next account
    # at once and answers 429 + Retry-After when none is left, so the wait is always zero.
    return 0


def install_router_patches() -> None:
    """Idempotent; called at import of the hook (so `litellm --config` gets it too)."""
    litellm_tuning.apply()
    if getattr(Router._time_to_sleep_before_retry, "__name__", "") != _no_sleep_before_retry.__name__:
        Router._time_to_sleep_before_retry = _no_sleep_before_retry  # type: ignore[method-assign]


def litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


__all__ = ["litellm", "proxy_app", "use_router", "router", "config_path", "replace_model_list", "configure_retries", "install_router_patches", "PINNED_LITELLM", "litellm_version"]


# ---- request-path shortcuts (measured: docs/benchmarks.md) -------------------------------------------

HOT_ROUTES = (("POST", "/v1/messages"), ("POST", "/v1/responses"), ("POST", "/v1/chat/completions"))
_ANTHROPIC_FEATURE = "anthropic_passthrough"


def trust_front_layer_auth(app: Any) -> None:
    """Replace LiteLLM's per-request key auth with a fixed caller identity.

    The gateway checks client keys itself, in front of LiteLLM (gateway.client_keys); LiteLLM runs
    with no master key, so its own auth only re-reads the body, builds an identity and seeds OTel
    destinations (a failing import, retried on every request) — ~11% of the CPU of a request.
    FastAPI's dependency_overrides is the supported way to swap a dependency.
    """
    from litellm.proxy._types import LitellmUserRoles, UserAPIKeyAuth
    from litellm.proxy.auth.user_api_key_auth import user_api_key_auth

    async def gateway_caller() -> UserAPIKeyAuth:
        return UserAPIKeyAuth(user_role=LitellmUserRoles.INTERNAL_USER)

    app.dependency_overrides[user_api_key_auth] = gateway_caller


async def load_messages_routes(app: Any) -> None:
    """/v1/messages is registered lazily on its first hit (~0.7 s); load it during start-up instead."""
    from litellm.proxy._lazy_features import LAZY_FEATURES, _force_load

    for feature in LAZY_FEATURES:
        if feature.name == _ANTHROPIC_FEATURE:
            await _force_load(app, feature)


def hoist_hot_routes(app: Any) -> None:
    """Put the route entries serving the hot paths at the head of LiteLLM's route list.

    Starlette matches in order. LiteLLM sorts its hot routes first, but with FastAPI 0.165 the top
    level holds included-router entries its check does not recognise, so /v1/messages (registered
    lazily, last) was matched after ~110 entries: 1.6 ms per request. Idempotent and cheap when the
    order is already right, so it can run again after LiteLLM re-sorts routes for a lazy feature.
    """
    from starlette.routing import Match

    routes = app.router.routes
    for method, path in reversed(HOT_ROUTES):
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": [], "query_string": b"", "app": app}
        for index, route in enumerate(routes):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                if index != 0:
                    routes.insert(0, routes.pop(index))
                break
