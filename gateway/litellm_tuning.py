"""LiteLLM work the gateway does not need on the request path, skipped: each change measured.

Every function here replaces one LiteLLM internal with a version that gives the same answer for the
gateway's deployments while skipping work whose result nobody reads: prices for subscription calls,
per-minute usage counters for subscription deployments without limits, and answers LiteLLM recomputes
on every request although they never change (model-map capabilities, a runtime Protocol check,
TypedDict type hints).

The first two are scoped to subscription deployments (model_info.gw_account, set by
gateway/deployments.py): an ordinary API-key entry in the same YAML keeps LiteLLM's own cost, spend
tracking, budgets and usage counters. The caches give stock LiteLLM's answer for every deployment.
The figures are CPU per request of the real gateway (docs/benchmarks.md); the internals are covered
by tests/contract/test_litellm_tuning.py, so a LiteLLM upgrade that moves one fails there.
Each function is idempotent; gateway/startup.py calls `apply()` (through litellm_app), for both
entry points. The
adjustments to LiteLLM's proxy server (its per-request key auth, its lazily loaded /v1/messages route,
its route order, the served-stream copy kept for guardrails) are gone: `python -m gateway.amp` no
longer runs requests through the proxy (gateway/model_routes.py), and under `litellm --config` the
proxy is LiteLLM's own, unchanged.
"""

from __future__ import annotations

from typing import Any, Callable

import litellm
from litellm.router import Router

_MARK = "_subgate_tuned"
CACHE_SIZE = 1024  # entries per remembered answer table; model names come from clients


def _tuned(function: Callable[..., Any], original: Any = None) -> Callable[..., Any]:
    """Marks a replacement (so apply() is idempotent) and keeps the original for the contract test."""
    setattr(function, _MARK, True)
    function.__wrapped__ = original  # type: ignore[attr-defined]
    return function


def _is_tuned(function: Any) -> bool:
    return getattr(function, _MARK, False) is True


_subscription_ids: frozenset[str] = frozenset()


def note_deployments(model_list: list[dict[str, Any]]) -> None:
    """Remember which router deployments are subscription accounts (called whenever the list is replaced)."""
    global _subscription_ids
    _subscription_ids = frozenset(
        str((d.get("model_info") or {}).get("id"))
        for d in model_list
        if (d.get("model_info") or {}).get("gw_account")
    )


def is_subscription_deployment(model_id: Any) -> bool:
    return model_id is not None and str(model_id) in _subscription_ids


def _is_subscription_call(logging_obj: Any) -> bool:
    """The call a LiteLLM Logging object describes went to a subscription deployment."""
    params = logging_obj.model_call_details.get("litellm_params") or {}
    info = params.get("model_info") if isinstance(params, dict) else None
    if isinstance(info, dict) and info.get("gw_account"):
        return True
    return is_subscription_deployment(logging_obj.get_router_model_id())


def _subscription_cost_call(kwargs: dict[str, Any]) -> bool:
    """`litellm.completion_cost(...)` asked about a response a subscription deployment gave."""
    if is_subscription_deployment(kwargs.get("router_model_id")):
        return True
    hidden = getattr(kwargs.get("completion_response"), "_hidden_params", None)
    return isinstance(hidden, dict) and is_subscription_deployment(hidden.get("model_id"))


def skip_cost_calculation() -> None:
    """Subscription calls have no per-token price. LiteLLM's calculator (model-map lookups, pydantic
    usage objects) ran twice per request, ~8% of its CPU; the stream assembler and the Anthropic
    pass-through logger call `litellm.completion_cost` once more per stream. Cost reads as 0 for
    subscription deployments; every other deployment is priced by LiteLLM as usual. LiteLLM
    then explains every zero price (walking the model map's rate tables): 8% of a chat request, for
    a diagnostic that only says "this model has no price", so that is skipped too."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    if not _is_tuned(Logging.response_cost_calculator):
        calculate = Logging.response_cost_calculator

        def response_cost(self: Any, *args: Any, **kwargs: Any) -> Any:
            return 0.0 if _is_subscription_call(self) else calculate(self, *args, **kwargs)

        Logging.response_cost_calculator = _tuned(response_cost, calculate)  # type: ignore[method-assign]
        Logging._response_cost_calculator = Logging.response_cost_calculator  # type: ignore[method-assign]
    if not _is_tuned(Logging._record_zero_cost_diagnostic):
        diagnose = Logging._record_zero_cost_diagnostic

        def zero_cost_diagnostic(self: Any, *args: Any, **kwargs: Any) -> Any:
            return None if _is_subscription_call(self) else diagnose(self, *args, **kwargs)

        Logging._record_zero_cost_diagnostic = _tuned(zero_cost_diagnostic, diagnose)  # type: ignore[method-assign]
    if not _is_tuned(litellm.completion_cost):
        price = litellm.completion_cost

        def completion_cost(*args: Any, **kwargs: Any) -> Any:
            return 0.0 if _subscription_cost_call(kwargs) else price(*args, **kwargs)

        litellm.completion_cost = _tuned(completion_cost, price)


def skip_unlimited_usage_tracking() -> None:
    """The router counts tokens and requests per deployment and minute after every success, but only
    deployments with tpm/rpm (or itpm/otpm) limits ever read the counters. Subscription deployments
    only; others are counted as stock LiteLLM counts them. To find out, stock LiteLLM
    rebuilds the deployment's model info (a model-map lookup and a deepcopy) twice per request: ~5%
    of a request's CPU. The answer is remembered per stored deployment (the router's own dict, which
    a config reload replaces) and model group, so a reload that adds limits is seen at once."""
    original = Router._increment_deployment_usage
    if _is_tuned(original):
        return
    from litellm.router_utils.pre_call_checks.io_token_rate_limit_check import deployment_has_io_token_limits

    limited: dict[tuple[str, str], tuple[Any, bool]] = {}

    def has_limits(router: Router, deployment: Any, model_group: str) -> bool:
        info = router.get_router_model_info(deployment=deployment, received_model_name=model_group)
        params = deployment.litellm_params
        limits = (deployment.get("tpm"), deployment.get("rpm"), params.tpm, params.rpm, info.get("tpm"), info.get("rpm"))
        return any(limit is not None for limit in limits) or deployment_has_io_token_limits(deployment.model_dump())

    async def increment(self: Router, *, deployment_id: str, model_group: str, **rest: Any) -> str | None:
        # get_deployment builds a fresh Deployment from the stored dict on every call, so the
        # stored dict is what identifies "this deployment, as configured now".
        if not is_subscription_deployment(deployment_id):
            return await original(self, deployment_id=deployment_id, model_group=model_group, **rest)
        index = self.model_id_to_deployment_index_map.get(deployment_id)
        if index is None:
            return None
        stored = self.model_list[index]
        key = (deployment_id, model_group)
        known = limited.get(key)
        if known is None or known[0] is not stored:
            deployment = self.get_deployment(model_id=deployment_id)
            if deployment is None:
                return None
            if len(limited) >= CACHE_SIZE:
                limited.clear()
            known = limited[key] = (stored, has_limits(self, deployment, model_group))
        if not known[1]:
            return None
        return await original(self, deployment_id=deployment_id, model_group=model_group, **rest)

    Router._increment_deployment_usage = _tuned(increment, original)  # type: ignore[method-assign]


_capabilities: dict[tuple[str, str, str], tuple[tuple[int, int], bool]] = {}


def remember_model_capabilities() -> None:
    """Anthropic requests ask the model map the same capability questions (adaptive thinking,
    always-on thinking, ...) three or more times each, every request: ~3% of its CPU. The answers
    depend only on the model, the provider and the map, so they are kept until the map changes
    (an entry added, or `forget_model_capabilities()` after the gateway replaces its model list)."""
    from litellm.llms.anthropic.common_utils import AnthropicModelInfo

    original = AnthropicModelInfo._supports_model_capability
    if _is_tuned(original):
        return

    def supports(model: str, key: str, custom_llm_provider: str) -> bool:
        model_map = litellm.model_cost
        stamp = (id(model_map), len(model_map))
        cache_key = (model, key, custom_llm_provider)
        known = _capabilities.get(cache_key)
        if known is not None and known[0] == stamp:
            return known[1]
        if len(_capabilities) >= CACHE_SIZE:
            _capabilities.clear()
        answer = original(model, key, custom_llm_provider)
        _capabilities[cache_key] = (stamp, answer)
        return answer

    AnthropicModelInfo._supports_model_capability = staticmethod(_tuned(supports, original))  # type: ignore[method-assign]


def forget_model_capabilities() -> None:
    _capabilities.clear()


class _HasStreamingDeploymentHook(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        return getattr(instance, "async_post_call_streaming_deployment_hook", None) is not None


class HasPostStreamingDeploymentHook(metaclass=_HasStreamingDeploymentHook):
    """What LiteLLM's runtime-checkable protocol checks (the attribute exists), without typing's
    generic protocol machinery."""


def fast_streaming_hook_check() -> None:
    """For every event of a /v1/responses stream LiteLLM asks, for each registered callback, whether
    it satisfies a runtime-checkable Protocol; typing answers that by walking the protocol's members
    and the callback's MRO every time: 11% of a streamed /v1/responses request's CPU. The check is
    one attribute, so it is answered as one attribute lookup."""
    from litellm.responses import streaming_iterator

    if streaming_iterator._HasPostStreamingDeploymentHook is not HasPostStreamingDeploymentHook:
        streaming_iterator._HasPostStreamingDeploymentHook = HasPostStreamingDeploymentHook


_TYPE_HINT_MODULES = ("litellm.responses.utils", "litellm.llms.openai.responses.transformation")


def remember_type_hints() -> None:
    """The Responses API path asks `typing.get_type_hints` for the fields of the same two TypedDicts
    on every request (to sort the caller's parameters), which re-evaluates every annotation: ~3% of
    a /v1/responses or GPT chat request's CPU. A class's hints do not change, so they are computed
    once per class; calls with extra arguments go to typing unchanged."""
    import importlib
    import typing

    known: dict[type, dict[str, Any]] = {}

    def hints(obj: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs or not isinstance(obj, type):
            return typing.get_type_hints(obj, *args, **kwargs)
        found = known.get(obj)
        if found is None:
            found = known[obj] = typing.get_type_hints(obj)
        return dict(found)  # callers may change their copy

    _tuned(hints, typing.get_type_hints)
    for name in _TYPE_HINT_MODULES:
        module = importlib.import_module(name)
        if not _is_tuned(module.get_type_hints):
            module.get_type_hints = hints


def apply() -> None:
    skip_cost_calculation()
    skip_unlimited_usage_tracking()
    remember_model_capabilities()
    fast_streaming_hook_check()
    remember_type_hints()
    from gateway import success_logging  # the success-logging seam has its own module

    success_logging.install()
