"""The gateway's retry and cooldown settings reach subscription deployments only: an API-key model
group in the same YAML retries and cools down exactly as stock LiteLLM does.

Retries: the hook gives each request to a subscription pool LiteLLM's per-request
`model_group_retry_policy` (gateway/litellm_app.py `scope_retries`). Cooldowns: account deployments
carry LiteLLM's deployment-level `model_info.allowed_fails_policy` (gateway/deployments.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import litellm_app
from gateway.deployments import expand
from gateway.router_setup import route_attempts
from gateway.token_store import Account

import litellm  # noqa: E402
from litellm.router import Router  # noqa: E402
from litellm.router_utils.cooldown_handlers import _should_cooldown_deployment  # noqa: E402

KEYED = {"model_name": "keyed", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-1"},
         "model_info": {"id": "keyed-1"}}
POOL = {"model_name": "sub", "litellm_params": {"model": "anthropic/claude-sonnet-4-5", "litellm_credential_name": "claude"}}


def _account(n: int) -> Account:
    return Account(provider="claude", path=Path(f"/auth/claude-a{n}@example.com.json"), data={"email": f"a{n}@example.com"})


def _model_list() -> list[dict[str, Any]]:
    return expand([KEYED, POOL], [_account(1), _account(2)], {"claude": "http://127.0.0.1:9"})


def _rate_limited(model: str) -> Exception:
    return litellm.RateLimitError(message="429", llm_provider="openai", model=model,
                                  response=httpx.Response(429, request=httpx.Request("POST", "http://x")))


def _errors() -> dict[str, Any]:
    return {
        "429": _rate_limited,
        "400": lambda model: litellm.BadRequestError(message="bad", llm_provider="openai", model=model),
        "500": lambda model: litellm.InternalServerError(message="boom", llm_provider="openai", model=model),
    }


def _attempts(router: Router, model: str, error: Any, **data: Any) -> int:
    calls = 0

    async def attempt(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        assert "model_group_retry_policy" not in kwargs  # the Router consumes it; it never reaches a call
        raise error(kwargs["model"])

    with pytest.raises(Exception):
        asyncio.run(route_attempts(router, model, attempt, **data))
    return calls


def _router(**settings: Any) -> Router:
    return Router(model_list=_model_list(), **settings)


@pytest.mark.parametrize("kind", ["429", "400", "500"])
@pytest.mark.parametrize("settings", [{}, {"num_retries": 1}])
def test_api_key_group_retries_as_stock(kind, settings):
    """What the hook does for a request (nothing, for an API-key group) leaves LiteLLM's retries alone."""
    stock = _attempts(Router(model_list=[KEYED], **settings), "keyed", _errors()[kind])
    data: dict[str, Any] = {}  # the hook adds a policy only when the model is a subscription pool's
    assert _attempts(_router(**settings), "keyed", _errors()[kind], **data) == stock


def test_subscription_pool_gets_the_gateway_policy():
    data: dict[str, Any] = {}
    litellm_app.scope_retries(data, "sub", 2)
    router = _router(num_retries=0)  # the YAML's router-wide setting does not decide for the pools
    assert _attempts(router, "sub", _rate_limited, **data) == 3  # one try + request-retry on other accounts
    data = {}
    litellm_app.scope_retries(data, "sub", 2)
    assert _attempts(router, "sub", _errors()["400"], **data) == 1  # a client mistake never retries


def test_the_policy_is_litellms_retry_policy():
    from litellm.types.router import RetryPolicy

    assert RetryPolicy(**litellm_app.retry_policy(2)).RateLimitErrorRetries == 2  # every field is one of LiteLLM's


def test_a_policy_the_request_brings_is_kept():
    own = litellm_app.retry_policy(0)
    data: dict[str, Any] = {"model_group_retry_policy": {"sub": own}}
    litellm_app.scope_retries(data, "sub", 3)
    assert data["model_group_retry_policy"]["sub"] is own


def _auth_error() -> Exception:
    return litellm.AuthenticationError(message="401", llm_provider="anthropic", model="m",
                                       response=httpx.Response(401, request=httpx.Request("POST", "http://x")))


def test_a_401_never_cools_an_account_but_cools_an_api_key_deployment_as_stock():
    keyed_twin = {**KEYED, "model_name": "keyed", "model_info": {"id": "keyed-2"}}
    stock = Router(model_list=[KEYED, keyed_twin])
    ours = Router(model_list=[*_model_list(), keyed_twin])
    stock_says = _should_cooldown_deployment(stock, "keyed-1", 401, _auth_error(), "keyed")
    assert _should_cooldown_deployment(ours, "keyed-1", 401, _auth_error(), "keyed") == stock_says
    assert stock_says is True  # LiteLLM cools a deployment on a 401; ours must keep doing that for API keys
    account_ids = [d["model_info"]["id"] for d in _model_list() if d["model_info"].get("gw_account")]
    assert len(account_ids) == 2
    for dep_id in account_ids:
        assert _should_cooldown_deployment(ours, dep_id, 401, _auth_error(), "sub") is False
    assert ours.allowed_fails_policy is None  # nothing router-wide
