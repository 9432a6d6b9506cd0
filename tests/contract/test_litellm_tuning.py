"""gateway/litellm_tuning.py replaces LiteLLM internals with cheaper versions: each must still exist
where the tuning expects it (a LiteLLM upgrade that moves one fails here) and must give the answer
stock LiteLLM gives for the gateway's deployments."""

from __future__ import annotations

import datetime
import inspect
import uuid

import pytest

from gateway import litellm_app, litellm_tuning  # noqa: F401  (litellm_app sets LiteLLM's env flags first)

import litellm  # noqa: E402
from litellm.router import Router  # noqa: E402


@pytest.fixture(autouse=True)
def tuned():
    litellm_tuning.apply()


def test_every_replaced_internal_is_where_the_tuning_expects_it():
    from litellm.llms.anthropic.common_utils import AnthropicModelInfo
    from litellm.litellm_core_utils import streaming_chunk_builder_utils
    from litellm.proxy.pass_through_endpoints.llm_provider_handlers import anthropic_passthrough_logging_handler
    from litellm.responses import streaming_iterator

    # The stream assembler and the pass-through logger look the calculator up on the module at call time.
    for module in (streaming_chunk_builder_utils, anthropic_passthrough_logging_handler):
        assert "litellm.completion_cost(" in inspect.getsource(module), module.__name__
    usage = inspect.signature(Router._increment_deployment_usage.__wrapped__).parameters
    assert {"deployment_id", "model_group"} <= {n for n, p in usage.items() if p.kind is p.KEYWORD_ONLY}
    assert "model_id_to_deployment_index_map" in inspect.getsource(Router.get_deployment)
    assert list(inspect.signature(AnthropicModelInfo._supports_model_capability.__wrapped__).parameters) == \
        ["model", "key", "custom_llm_provider"]
    hook_check = inspect.getsource(streaming_iterator.BaseResponsesAPIStreamingIterator._call_post_streaming_deployment_hook)
    assert "isinstance(callback, _HasPostStreamingDeploymentHook)" in hook_check
    assert streaming_iterator._HasPostStreamingDeploymentHook is litellm_tuning.HasPostStreamingDeploymentHook


def _priced_call(model_info: dict):
    logging_obj = _logging_obj()
    logging_obj.update_environment_variables(litellm_params={"model_info": model_info}, optional_params={},
                                             model="claude-sonnet-4-5", custom_llm_provider="anthropic")
    response = litellm.ModelResponse(model="claude-sonnet-4-5", usage={"prompt_tokens": 1000, "completion_tokens": 500,
                                                                         "total_tokens": 1500})
    return logging_obj, response


def test_subscription_calls_are_priced_zero_without_a_zero_price_diagnostic():
    from litellm.litellm_core_utils.litellm_logging import Logging

    source = inspect.getsource(Logging)
    assert "self._record_zero_cost_diagnostic(" in source and "_response_cost_calculator = response_cost_calculator" in source
    assert list(inspect.signature(Logging._record_zero_cost_diagnostic.__wrapped__).parameters)[:3] == \
        ["self", "result", "response_cost"]
    logging_obj, response = _priced_call({"id": "claude-acct-1-abc", "gw_account": "acct-1"})
    assert Logging.response_cost_calculator.__wrapped__(logging_obj, result=response) > 0  # stock prices it
    assert logging_obj.response_cost_calculator(result=response) == 0.0
    assert logging_obj._response_cost_calculator(result=response) == 0.0
    logging_obj._record_zero_cost_diagnostic(None, 0.0)
    assert logging_obj.model_call_details.get("zero_cost_diagnostic") is None

    litellm_tuning.note_deployments([{"model_info": {"id": "claude-acct-1-abc", "gw_account": "acct-1"}}])
    try:
        response._hidden_params["model_id"] = "claude-acct-1-abc"
        assert litellm.completion_cost(completion_response=response, model="claude-sonnet-4-5") == 0.0
        assert litellm.completion_cost(completion_response=response, model="claude-sonnet-4-5",
                                       router_model_id="claude-acct-1-abc") == 0.0
    finally:
        litellm_tuning.note_deployments([])


def test_api_key_deployments_keep_litellms_own_prices():
    """An ordinary entry (an API key in the YAML) is priced, spent and budgeted as stock LiteLLM does."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    logging_obj, response = _priced_call({"id": "my-openai-key"})
    stock = Logging.response_cost_calculator.__wrapped__(logging_obj, result=response)
    assert stock > 0
    assert logging_obj.response_cost_calculator(result=response) == stock
    litellm_tuning.note_deployments([{"model_info": {"id": "claude-acct-1-abc", "gw_account": "acct-1"}}])
    try:
        response._hidden_params["model_id"] = "my-openai-key"
        assert litellm.completion_cost(completion_response=response, model="claude-sonnet-4-5") == \
            litellm.completion_cost.__wrapped__(completion_response=response, model="claude-sonnet-4-5") > 0
    finally:
        litellm_tuning.note_deployments([])

def _router(subscription: bool = True, **limits: int) -> Router:
    params = {"model": "anthropic/claude-sonnet-4-5", "api_key": "unused", **limits}
    info = {"id": "acct-1", **({"gw_account": "acct-1"} if subscription else {})}
    router = Router(model_list=[])
    litellm_app.replace_model_list(router, [{"model_name": "claude-sonnet-4-5", "litellm_params": params,
                                             "model_info": info}])
    return router


async def _count(router: Router) -> str | None:
    return await router._increment_deployment_usage(deployment_id="acct-1", deployment_name="anthropic/claude-sonnet-4-5",
                                                    model_group="claude-sonnet-4-5", total_tokens=15,
                                                    rpm_increment=1, parent_otel_span=None)


async def test_subscription_deployments_without_limits_are_not_counted():
    router = _router()
    assert await _count(router) is None
    assert await _count(router) is None


async def _stock_count(router: Router) -> str | None:
    return await Router._increment_deployment_usage.__wrapped__(
        router, deployment_id="acct-1", deployment_name="anthropic/claude-sonnet-4-5", model_group="claude-sonnet-4-5",
        total_tokens=15, rpm_increment=1, parent_otel_span=None)


@pytest.mark.parametrize("limits", [{}, {"rpm": 100}])
async def test_api_key_deployments_are_counted_as_stock_litellm_counts_them(limits):
    tuned, stock = _router(subscription=False, **limits), _router(subscription=False, **limits)
    key, stock_key = await _count(tuned), await _stock_count(stock)
    assert key == stock_key
    assert (key is not None) == bool(limits)
    if key is not None:
        assert await tuned.cache.async_get_cache(key) == await stock.cache.async_get_cache(stock_key) == 15


async def test_deployments_with_limits_are_still_counted_and_a_reload_is_seen():
    router = _router(rpm=100)
    key = await _count(router)
    assert key is not None
    rpm_key = key.replace(":tpm:", ":rpm:")
    await _count(router)
    assert await router.cache.async_get_cache(key) == 30  # 15 tokens, twice
    assert await router.cache.async_get_cache(rpm_key) == 2

    info = {"id": "acct-1", "gw_account": "acct-1"}
    litellm_app.replace_model_list(router, [{"model_name": "claude-sonnet-4-5", "model_info": info,
                                             "litellm_params": {"model": "anthropic/claude-sonnet-4-5", "api_key": "x"}}])
    assert await _count(router) is None  # the limit is gone: no longer counted

    litellm_app.replace_model_list(router, [{"model_name": "claude-sonnet-4-5", "model_info": info,
                                             "litellm_params": {"model": "anthropic/claude-sonnet-4-5", "api_key": "x",
                                                                "tpm": 1000}}])
    assert await _count(router) is not None  # a limit added by a reload is counted at once


def test_remembered_capabilities_match_the_model_map_and_follow_its_changes():
    from litellm.llms.anthropic.common_utils import AnthropicModelInfo

    stock = AnthropicModelInfo._supports_model_capability.__wrapped__
    for model in ("claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-3-5-haiku-20241022", "claude-opus-4-8"):
        for key in ("supports_adaptive_thinking", "supports_reasoning", "supports_vision", "thinking_always_on"):
            for _ in range(2):  # asked, then remembered
                assert AnthropicModelInfo._supports_model_capability(model, key, "anthropic") == stock(model, key, "anthropic")

    name = f"subgate-test-{uuid.uuid4().hex[:8]}"
    assert AnthropicModelInfo._supports_model_capability(name, "supports_adaptive_thinking", "anthropic") is False
    litellm.register_model({name: {"litellm_provider": "anthropic", "mode": "chat", "supports_adaptive_thinking": True,
                                   "input_cost_per_token": 0, "output_cost_per_token": 0}})
    try:
        assert AnthropicModelInfo._supports_model_capability(name, "supports_adaptive_thinking", "anthropic") is True
    finally:
        litellm.model_cost.pop(name, None)
        litellm_tuning.forget_model_capabilities()


def _logging_obj():
    from litellm.litellm_core_utils.litellm_logging import Logging

    return Logging(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}], stream=True,
                   call_type="acompletion", start_time=datetime.datetime.now(), litellm_call_id=str(uuid.uuid4()),
                   function_id="test")


def _chunks():
    from litellm.types.utils import ModelResponseStream

    return [ModelResponseStream(choices=[{"index": 0, "delta": {"role": "assistant", "content": text}}])
            for text in ("Hel", "lo")]


def test_streaming_hook_check_answers_as_the_protocol_did():
    from litellm.integrations.custom_logger import CustomLogger

    class WithoutHook:
        pass

    class NoneHook:
        async_post_call_streaming_deployment_hook = None

    assert isinstance(CustomLogger(), litellm_tuning.HasPostStreamingDeploymentHook)
    assert not isinstance(WithoutHook(), litellm_tuning.HasPostStreamingDeploymentHook)
    assert not isinstance(NoneHook(), litellm_tuning.HasPostStreamingDeploymentHook)
    assert not isinstance("async_post_call_streaming_deployment_hook", litellm_tuning.HasPostStreamingDeploymentHook)


def test_type_hints_are_remembered_where_the_responses_path_asks_for_them():
    import importlib
    import typing

    from litellm.types.llms.openai import ResponsesAPIOptionalRequestParams

    for name in litellm_tuning._TYPE_HINT_MODULES:
        module = importlib.import_module(name)
        assert "get_type_hints(" in inspect.getsource(module), name
        assert module.get_type_hints.__wrapped__ is typing.get_type_hints
        first = module.get_type_hints(ResponsesAPIOptionalRequestParams)
        assert first == typing.get_type_hints(ResponsesAPIOptionalRequestParams)
        first.clear()  # a caller changing its copy does not change the next answer
        assert module.get_type_hints(ResponsesAPIOptionalRequestParams) == typing.get_type_hints(ResponsesAPIOptionalRequestParams)
