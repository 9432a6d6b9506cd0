"""Every LiteLLM internal the gateway leans on, checked against the installed LiteLLM.

A failure here names the module to revisit (gateway/litellm_app.py unless said otherwise) before a
LiteLLM upgrade can break the gateway in production.
"""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import httpx
import pytest

from gateway import litellm_app

import litellm  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_installed_litellm_is_the_pinned_one():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(d for d in deps if d.startswith("litellm[proxy]=="))
    assert pin.endswith(litellm_app.PINNED_LITELLM)
    assert litellm_app.litellm_version() == litellm_app.PINNED_LITELLM, "gateway/litellm_app.py: re-check every shortcut"


def test_proxy_globals_the_runtime_reads():
    from litellm.proxy import proxy_server

    assert hasattr(proxy_server, "llm_router"), "gateway/litellm_app.py router()"
    assert hasattr(proxy_server, "user_config_file_path"), "gateway/litellm_app.py config_path()"



def test_the_proxy_app_starts_the_gateway_from_its_lifespan_after_building_its_middleware():
    """gateway/litellm_app.py wrap_proxy_app(): the gateway starts inside the proxy's lifespan, by then
    Starlette has built the middleware stack (add_middleware is refused), so the built stack is wrapped."""
    import inspect

    from litellm.proxy import proxy_server
    from starlette.applications import Starlette

    assert proxy_server.app.router.lifespan_context is not None and "load_config" in inspect.getsource(
        proxy_server.proxy_startup_event)
    call = inspect.getsource(Starlette.__call__)
    assert "self.middleware_stack = self.build_middleware_stack()" in call
    assert "await self.middleware_stack(scope, receive, send)" in call  # read on every call


def test_router_surface_for_per_account_deployments():
    from litellm.router import Router
    from litellm.router_utils.pattern_match_deployments import PatternMatchRouter
    from litellm.types.router import AllowedFailsPolicy, RetryPolicy

    assert "model_list" in inspect.signature(Router.set_model_list).parameters
    assert {"AuthenticationErrorRetries", "RateLimitErrorRetries", "NotFoundErrorRetries", "DefaultRetries"} <= set(RetryPolicy.model_fields)
    assert "AuthenticationErrorAllowedFails" in AllowedFailsPolicy.model_fields
    r = Router(model_list=[])
    assert isinstance(r.pattern_router, PatternMatchRouter)
    # the patch that stops the router sleeping retry-after while it holds the client, for subscription
    # pools only: an API-key model group keeps LiteLLM's own back-off
    litellm_app.install_router_patches()
    limited = litellm.RateLimitError(message="slow down", llm_provider="openai", model="gpt-4o",
                                     response=httpx.Response(429, headers={"retry-after": "7"},
                                                             request=httpx.Request("POST", "http://x")))
    account = {"model_info": {"id": "d1", "gw_account": "acct-1"}}
    keyed = {"model_info": {"id": "d2"}}
    assert Router._time_to_sleep_before_retry(r, limited, 1, 1, healthy_deployments=[], all_deployments=[account]) == 0
    stock = Router._time_to_sleep_before_retry.__wrapped__(r, limited, 1, 1, healthy_deployments=[], all_deployments=[keyed])
    tuned = Router._time_to_sleep_before_retry(r, limited, 1, 1, healthy_deployments=[], all_deployments=[keyed])
    assert stock >= 7 and tuned >= 7  # both wait the upstream's retry-after (LiteLLM adds jitter on top)


def test_replace_model_list_rebuilds_wildcards():
    from litellm.router import Router

    r = Router(model_list=[])
    dep = {"model_name": "claude-*", "litellm_params": {"model": "anthropic/claude-*", "api_key": "x"},
           "model_info": {"id": "a"}}
    litellm_app.replace_model_list(r, [dep])
    litellm_app.replace_model_list(r, [dep])
    assert len(r.pattern_router.route("claude-foo") or []) == 1  # not 2: the old wildcard was dropped


def test_hook_surface():
    from litellm.integrations.custom_logger import CustomLogger

    for name in ("async_pre_call_hook", "async_filter_deployments", "async_pre_call_deployment_hook",
                 "async_post_call_failure_deployment_hook", "async_post_call_success_deployment_hook",
                 "async_post_call_failure_hook",
                 "async_log_success_event"):
        assert hasattr(CustomLogger, name), f"gateway/hook.py uses CustomLogger.{name}"
    params = inspect.signature(CustomLogger.async_filter_deployments).parameters
    assert {"model", "healthy_deployments", "messages", "request_kwargs"} <= set(params)


async def test_proxy_renders_the_exception_a_failure_hook_returns():
    """`litellm --config`: the hook's `async_post_call_failure_hook` hands LiteLLM's proxy the status and
    Retry-After of the classified failure (gateway/hook.py); the proxy must use the returned one."""
    from fastapi import HTTPException
    from litellm.caching.dual_cache import DualCache
    from litellm.integrations.custom_logger import CustomLogger
    from litellm.proxy._types import UserAPIKeyAuth
    from litellm.proxy.utils import ProxyLogging

    class Renders(CustomLogger):
        async def async_post_call_failure_hook(self, request_data, original_exception, user_api_key_dict,
                                               traceback_str=None):
            return HTTPException(status_code=429, detail="blocked", headers={"retry-after": "42"})

    hook = Renders()
    litellm.callbacks.append(hook)
    try:
        out = await ProxyLogging(user_api_key_cache=DualCache()).post_call_failure_hook(
            request_data={}, original_exception=litellm.BadRequestError(message="x", model="m", llm_provider="p"),
            user_api_key_dict=UserAPIKeyAuth())
    finally:
        litellm.callbacks.remove(hook)
    assert isinstance(out, HTTPException) and out.status_code == 429, "gateway/hook.py async_post_call_failure_hook"
    assert out.headers == {"retry-after": "42"}


def test_request_path_shortcuts_still_apply():
    from litellm.litellm_core_utils.litellm_logging import Logging

    assert hasattr(Logging, "response_cost_calculator"), "skip_cost_calculation"


def test_master_key_warning_and_client_error_lines_are_the_ones_the_log_filter_drops():
    """gateway/litellm_log_filter.py recognises LiteLLM's own wording; a changed wording shows up here."""
    from litellm.proxy import common_request_processing, proxy_server
    from litellm import router

    assert "LITELLM_MASTER_KEY is not set" in inspect.getsource(proxy_server)
    assert "not found in credential_list" in inspect.getsource(router)
    assert "_handle_llm_api_exception(): Exception occured" in inspect.getsource(common_request_processing)
