"""LiteLLM's success logging, reduced to what the gateway reads, for subscription deployments.

After every successful call LiteLLM builds its standard logging payload, prices the call, converts
the answer to the chat shape and, for a `/v1/messages` stream, re-assembles every collected event
into a chat response in a worker thread, so that its success callbacks get one uniform object. With
the gateway's own hook as the only reader, that work (30% of a request's CPU, docs/benchmarks.md) is
spent for four numbers: the call's token usage, which the hook reads from the answer in any shape
(gateway/usage.py `tokens_from`), and the upstream's headers, which LiteLLM already holds.

For a call to a subscription deployment (model_info.gw_account, gateway/deployments.py), when every
success callback registered is one this module knows, the success entry points of LiteLLM's
`Logging` object hand the final answer to those callbacks directly:
- a callback that says it reads the answer itself (`reads_raw_success = True`, the gateway hook):
  `async_log_success_event(kwargs, response_obj, start_time, end_time)` as LiteLLM calls it, with the
  call's own details as `kwargs` and the answer as the upstream gave it (Anthropic, Responses or chat
  shape) instead of LiteLLM's chat-shaped copy; cost reads 0, as it does for subscription calls anyway;
- the Router's own success callback (successes per deployment and minute, which its cooldown
  decisions read; usage counters for deployments with limits): called with the total token count,
  the one field of the logging payload it reads.
The same rules as stock decide when that happens: once per call, and for a stream only for its
final answer. A `/v1/messages` stream's usage is read from its `message_start` and `message_delta`
events instead of re-assembling the whole stream.

Anything else registered (a user's Langfuse, a routing strategy that learns from latencies, a
dynamic per-request callback), or an API-key deployment, gets stock LiteLLM logging unchanged.
tests/contract/test_success_logging.py compares both against a real upstream call.
"""

from __future__ import annotations

import sys
from typing import Any, Mapping

from gateway import litellm_app  # noqa: F401  (sets LiteLLM's offline flags before it is imported)
from custom_providers.sse import iter_events
from gateway.litellm_tuning import is_subscription_deployment
from gateway.usage import tokens_from

import litellm  # noqa: E402
from litellm._logging import verbose_logger  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402
from litellm.router import Router  # noqa: E402

_MARK = "_subgate_tuned"
_USAGE_EVENTS = frozenset({"message_start", "message_delta"})


def _tuned(function: Any, original: Any) -> Any:
    setattr(function, _MARK, True)
    function.__wrapped__ = original
    return function


def _is_tuned(function: Any) -> bool:
    return getattr(function, _MARK, False) is True


def _subscription(logging_obj: Any) -> bool:
    params = logging_obj.model_call_details.get("litellm_params") or {}
    info = params.get("model_info") if isinstance(params, Mapping) else None
    if isinstance(info, Mapping) and info.get("gw_account"):
        return True
    return is_subscription_deployment(logging_obj.get_router_model_id())


def _known(callback: Any) -> bool:
    if isinstance(callback, CustomLogger):
        return getattr(type(callback), "reads_raw_success", False) is True
    owner = getattr(callback, "__self__", None)
    function = getattr(callback, "__func__", None)
    return isinstance(owner, Router) and function in (
        Router.deployment_callback_on_success, Router.sync_deployment_callback_on_success)


def _lean(logging_obj: Any) -> bool:
    """LiteLLM's work can be skipped: a subscription call, and no callback that reads LiteLLM's payload."""
    if logging_obj.dynamic_async_success_callbacks or logging_obj.dynamic_success_callbacks:
        return False
    if not _subscription(logging_obj):
        return False
    return all(_known(c) for c in (*litellm._async_success_callback, *litellm.success_callback))


def final_answer(logging_obj: Any, result: Any) -> Any:
    """The answer the success callbacks get, or None for what stock LiteLLM does not log as a success
    (a stream's chunks)."""
    from litellm.types.llms.openai import ResponseCompletedEvent, ResponseFailedEvent, ResponseIncompleteEvent
    from litellm.types.utils import ModelResponseStream

    if result is None or isinstance(result, ModelResponseStream):
        return None
    if isinstance(result, (ResponseCompletedEvent, ResponseIncompleteEvent, ResponseFailedEvent)):
        return result.response
    return result


async def log_success(logging_obj: Any, result: Any, start_time: Any = None, end_time: Any = None) -> None:
    """What LiteLLM's success handler does for the gateway's readers, and nothing more."""
    answer = final_answer(logging_obj, result)
    if answer is None:
        return
    details = logging_obj.model_call_details
    key = "async_complete_streaming_response" if logging_obj.stream is True else "has_logged_async_success"
    if key in details:  # once per call, as stock
        return
    details[key] = answer if logging_obj.stream is True else True
    details["response_cost"] = 0.0
    for source in (result, answer):
        logging_obj._surface_response_headers_from_result(source)
    start = start_time or details.get("start_time")
    end = end_time or details.get("end_time")
    tokens = tokens_from(answer)
    total = tokens.total if tokens is not None else 0
    for callback in litellm._async_success_callback:
        try:
            if isinstance(callback, CustomLogger):
                await callback.async_log_success_event(kwargs=details, response_obj=answer, start_time=start,
                                                       end_time=end)
            else:  # Router.deployment_callback_on_success: reads the payload's total_tokens only
                await callback({**details, "standard_logging_object": {"total_tokens": total}}, answer, start, end)
        except Exception:  # as stock: one failing callback does not stop the others
            verbose_logger.exception("success callback %r failed", callback)


def messages_stream_answer(raw: bytes) -> dict[str, Any]:
    """A Messages stream's answer as far as logging reads it: the message from `message_start` with the
    usage that `message_delta` events update (Anthropic sends the final output count there)."""
    message: dict[str, Any] = {"type": "message", "usage": {}}
    for event in iter_events(raw):
        if event.event not in _USAGE_EVENTS:
            continue
        payload = event.json()
        if not isinstance(payload, dict):
            continue
        if event.event == "message_start" and isinstance(payload.get("message"), dict):
            message = {**payload["message"], "usage": dict(payload["message"].get("usage") or {})}
        usage = payload.get("usage")
        if isinstance(usage, dict):
            message["usage"].update({k: v for k, v in usage.items() if v is not None})
    return message


def install() -> None:
    """Wrap the success entry points (idempotent); see the module docstring for what is skipped."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    if not _is_tuned(Logging.async_success_handler):
        stock_async = Logging.async_success_handler

        async def async_success_handler(self: Any, result: Any = None, start_time: Any = None, end_time: Any = None,
                                        cache_hit: Any = None, **kwargs: Any) -> None:
            if not _stream_logging_wrapped:
                _wrap_stream_logging()
            if cache_hit or kwargs or not _lean(self):
                return await stock_async(self, result, start_time, end_time, cache_hit, **kwargs)
            await log_success(self, result, start_time, end_time)

        Logging.async_success_handler = _tuned(async_success_handler, stock_async)  # type: ignore[method-assign]

    if not _is_tuned(Logging.success_handler):
        stock_sync = Logging.success_handler

        def success_handler(self: Any, result: Any = None, start_time: Any = None, end_time: Any = None,
                            cache_hit: Any = None, **kwargs: Any) -> None:
            # The async entry point above logs the call; the sync one only repeats LiteLLM's payload
            # work in a thread for callbacks that are not registered on the lean path.
            if cache_hit or not _lean(self) or Logging.is_sync_litellm_request(
                    self.model_call_details.get("litellm_params") or {}):
                return stock_sync(self, result, start_time, end_time, cache_hit, **kwargs)
            return None

        Logging.success_handler = _tuned(success_handler, stock_sync)  # type: ignore[method-assign]
    _wrap_stream_logging()


_STREAM_MODULE = "litellm.proxy.pass_through_endpoints.streaming_handler"
_stream_logging_wrapped = False


def _wrap_stream_logging() -> None:
    """The Messages stream's logging, wrapped once LiteLLM has loaded it (its module costs 0.5 s of
    start-up, and LiteLLM loads it with the first Messages stream): until then, and for that first
    stream, the stock re-assembly runs and its result reaches the lean path above."""
    global _stream_logging_wrapped
    module = sys.modules.get(_STREAM_MODULE)
    if module is None:
        return
    _stream_logging_wrapped = True
    PassThroughStreamingHandler = module.PassThroughStreamingHandler
    stock_route = PassThroughStreamingHandler.route_streaming_logging_to_handler
    if not _is_tuned(stock_route):

        async def route_streaming_logging_to_handler(*, litellm_logging_obj: Any, raw_bytes: Any,
                                                     start_time: Any, end_time: Any, **rest: Any) -> None:
            if not _lean(litellm_logging_obj) or str(getattr(rest.get("endpoint_type"), "value", "")) != "anthropic":
                return await stock_route(litellm_logging_obj=litellm_logging_obj, raw_bytes=raw_bytes,
                                         start_time=start_time, end_time=end_time, **rest)
            await log_success(litellm_logging_obj, messages_stream_answer(b"".join(raw_bytes)), start_time, end_time)

        PassThroughStreamingHandler.route_streaming_logging_to_handler = staticmethod(  # type: ignore[method-assign]
            _tuned(route_streaming_logging_to_handler, stock_route))
