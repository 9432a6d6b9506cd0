"""The Router surface gateway/model_routes.py and gateway/router_setup.py call directly.

`python -m gateway.amp` does around the Router what LiteLLM's proxy would: these are the names and
behaviours it relies on, checked against the installed LiteLLM so an upgrade that moves them fails here.
"""

from __future__ import annotations

import inspect

from gateway import litellm_app  # noqa: F401  (offline flags first)
from gateway import router_setup

from litellm.router import Router


def test_router_methods_the_model_routes_call():
    from gateway.model_routes import ROUTES

    router = Router(model_list=[])
    for route in set(ROUTES.values()):
        assert callable(getattr(router, route.method, None)), route.method


def test_router_settings_from_the_yaml_are_router_arguments():
    valid = set(Router.get_valid_args())
    assert {"routing_strategy", "allowed_fails_policy", "cooldown_time", "ignore_invalid_deployments",
            "router_general_settings"} <= valid


def test_built_router_takes_the_yaml_settings_and_registers_the_hook():
    import litellm

    from gateway.hook import proxy_hook

    config = {"litellm_settings": {"callbacks": "gateway.hook.proxy_hook", "drop_params": True},
              "router_settings": {"routing_strategy": "simple-shuffle", "cooldown_time": 7}}
    saved = {name: list(getattr(litellm, name)) for name in ("callbacks", "_async_success_callback",
                                                             "_async_failure_callback", "success_callback",
                                                             "failure_callback", "input_callback")}
    try:
        router = router_setup.build_router(config)
        assert router.cooldown_time == 7 and router.model_list == []
        assert proxy_hook in litellm.callbacks and litellm.callbacks.count(proxy_hook) == 1
        router_setup.build_router(config)  # a second build does not register the hook twice
        assert litellm.callbacks.count(proxy_hook) == 1
    finally:  # the hook would filter every later test's Router down to the gateway's accounts (none)
        for name, value in saved.items():
            setattr(litellm, name, value)


def test_upstream_time_is_recorded_per_http_call_in_the_call_metadata():
    """gateway/model_routes.py upstream_ms(): x-subgate-overhead-ms subtracts these windows."""
    from litellm.litellm_core_utils import logging_utils

    source = inspect.getsource(logging_utils._set_duration_in_model_call_details)
    assert 'metadata["llm_api_timing_windows"]' in source
    assert "get_litellm_metadata_from_kwargs" in source
