"""`router_setup.route_attempts`, the Router's generic call the Responses WebSocket relay routes each turn with.

The relay (gateway/responses_websocket.py) relies on three facts of LiteLLM's
`Router._ageneric_api_call_with_fallbacks`, checked here on a stock Router with plain deployments:
the attempt function receives the picked deployment's `litellm_params` and `model_info`; an exception
of a retried class calls the attempt again (on the deployment the Router then picks); what the attempt returns is returned as is.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import litellm
import pytest

from gateway import litellm_app  # noqa: F401  (offline flags first)
from gateway.router_setup import route_attempts

from litellm.router import Router


def _router() -> Router:
    return Router(model_list=[
        {"model_name": "m", "litellm_params": {"model": "openai/one", "api_key": "key-1"}, "model_info": {"id": "d1", "who": "one"}},
        {"model_name": "m", "litellm_params": {"model": "openai/two", "api_key": "key-2"}, "model_info": {"id": "d2", "who": "two"}},
    ], num_retries=2)


def test_the_attempt_gets_the_deployment_and_its_result_is_returned():
    seen: list[dict[str, Any]] = []

    async def attempt(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return ("turn", kwargs["model"])

    result = asyncio.run(route_attempts(_router(), "m", attempt, input="hi", litellm_call_id="c1"))
    [kwargs] = seen
    assert result == ("turn", kwargs["model"]) and kwargs["model"] in ("openai/one", "openai/two")
    assert kwargs["api_key"] == {"openai/one": "key-1", "openai/two": "key-2"}[kwargs["model"]]
    assert kwargs["model_info"]["who"] in ("one", "two") and kwargs["input"] == "hi"


def test_a_rate_limit_calls_the_attempt_again():
    # stock LiteLLM may pick the same deployment again; the gateway hook's account filter excludes tried accounts
    tried: list[str] = []

    async def attempt(**kwargs: Any) -> Any:
        tried.append(kwargs["model_info"]["who"])
        if len(tried) == 1:
            raise litellm.RateLimitError(message="429", llm_provider="openai", model=kwargs["model"],
                                         response=httpx.Response(429, request=httpx.Request("GET", "http://x")))
        return "ok"

    assert asyncio.run(route_attempts(_router(), "m", attempt)) == "ok"
    assert len(tried) == 2


def test_a_client_mistake_is_not_retried():
    calls = 0

    async def attempt(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise litellm.BadRequestError(message="bad", llm_provider="openai", model=kwargs["model"])

    data: dict[str, Any] = {}
    litellm_app.scope_retries(data, "m", 2)  # what the hook gives a request to a subscription pool
    with pytest.raises(litellm.BadRequestError):
        asyncio.run(route_attempts(_router(), "m", attempt, **data))
    assert calls == 1
