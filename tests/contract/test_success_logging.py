"""gateway/success_logging.py hands a subscription call's answer to the success callbacks without
LiteLLM's payload building: the same calls, through the Router, to the same strict Anthropic fake,
once on an API-key deployment (stock LiteLLM logging) and once on a subscription deployment (lean),
must give the callbacks the same usage, the upstream's headers and the call id, once per call."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from typing import Any, Iterator

import pytest

from gateway import litellm_app, litellm_tuning, success_logging
from gateway.hook import upstream_headers
from gateway.usage import tokens_from
from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.tokens import TokenBook
from tests.servers import ServerThread

import litellm  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402
from litellm.router import Router  # noqa: E402

MODEL = "claude-sonnet-4-5-20250929"
_LISTS = ("callbacks", "_async_success_callback", "success_callback", "_async_failure_callback",
          "failure_callback", "input_callback")
_ids = itertools.count()


class Recorder(CustomLogger):
    """Reads the answer itself, like the gateway's hook."""

    reads_raw_success = True

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.events.append({
            "call_id": kwargs.get("litellm_call_id"),
            "deployment": ((kwargs.get("litellm_params") or {}).get("model_info") or {}).get("id"),
            "tokens": tokens_from(response_obj),
            "headers": dict(kwargs.get("response_headers") or upstream_headers(response_obj) or {}),
            "payload": kwargs.get("standard_logging_object") is not None,
        })


class Other(CustomLogger):
    """A logger that reads LiteLLM's payload (Langfuse, a user's own): it keeps stock logging."""

    def __init__(self) -> None:
        super().__init__()
        self.payloads: list[Any] = []

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.payloads.append(kwargs.get("standard_logging_object"))


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, str]]:
    book = TokenBook()
    fake = AnthropicFake(book, require_claude_code_identity=False)
    grant = book.issue("contract@example.com")
    with ServerThread(fake.app) as srv:
        yield srv.url, grant.access_token


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    saved = {name: list(getattr(litellm, name)) for name in _LISTS}
    rec = Recorder()
    litellm.callbacks = [rec]
    litellm_tuning.apply()
    try:
        yield rec
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
        litellm_tuning.note_deployments([])


def _router(url: str, token: str) -> Router:
    params = {"model": f"anthropic/{MODEL}", "api_key": token, "api_base": url}
    model_list = [
        {"model_name": "sub", "litellm_params": dict(params), "model_info": {"id": "sub-1", "gw_account": "acct-1"}},
        {"model_name": "key", "litellm_params": dict(params), "model_info": {"id": "key-1"}},
    ]
    router = Router(model_list=[])
    litellm_app.replace_model_list(router, model_list)
    return router


async def _call(router: Router, model: str, kind: str) -> None:
    messages = [{"role": "user", "content": f"count me {next(_ids)}"}]
    if kind.startswith("messages"):
        answer = await router.aanthropic_messages(model=model, messages=messages, max_tokens=64,
                                                  stream=kind.endswith("stream"))
    else:
        answer = await router.acompletion(model=model, messages=messages, max_tokens=64,
                                          stream=kind.endswith("stream"),
                                          **({"stream_options": {"include_usage": True}} if kind.endswith("stream") else {}))
    if hasattr(answer, "__aiter__"):
        async for _ in answer:
            pass


async def _logged(rec: Recorder, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        if len(rec.events) >= count:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # a second event for the same call would land now
    return rec.events


@pytest.mark.parametrize("kind", ["messages", "messages-stream", "chat", "chat-stream"])
async def test_subscription_calls_log_what_stock_logs_without_the_payload(upstream, recorder, kind):
    router = _router(*upstream)
    await _call(router, "key", kind)
    stock = (await _logged(recorder, 1))[:]
    await _call(router, "sub", kind)
    events = await _logged(recorder, 2)
    assert len(stock) == 1 and len(events) == 2, events  # once per call on both paths
    key, sub = events
    assert key["deployment"] == "key-1" and sub["deployment"] == "sub-1"
    assert key["payload"] and not sub["payload"]  # stock built LiteLLM's payload; the lean path did not
    assert sub["tokens"] is not None and sub["tokens"].output > 0
    assert sub["tokens"] == key["tokens"]
    assert sub["call_id"] and sub["call_id"] != key["call_id"]
    for event in (key, sub):  # the upstream's head, where the gateway's hook reads headroom from
        assert "request-id" in {h.lower().removeprefix("llm_provider-") for h in event["headers"]}


async def test_another_reader_of_litellms_payload_keeps_stock_logging(upstream, recorder):
    other = Other()
    litellm.callbacks.append(other)
    router = _router(*upstream)
    await _call(router, "sub", "messages")
    events = await _logged(recorder, 1)
    assert len(events) == 1 and events[0]["payload"]
    assert other.payloads and other.payloads[0]["total_tokens"] > 0


def test_the_wrapped_entry_points_are_where_litellm_calls_them():
    from litellm.litellm_core_utils import litellm_logging, streaming_handler
    from litellm.proxy.pass_through_endpoints.streaming_handler import PassThroughStreamingHandler
    from litellm.responses import streaming_iterator
    from litellm import utils

    success_logging.install()
    Logging = litellm_logging.Logging
    for wrapped in (Logging.async_success_handler, Logging.success_handler,
                    PassThroughStreamingHandler.route_streaming_logging_to_handler):
        assert wrapped.__wrapped__ is not None
    assert list(inspect.signature(Logging.async_success_handler.__wrapped__).parameters)[:5] == \
        ["self", "result", "start_time", "end_time", "cache_hit"]
    # every success of the routes the gateway serves arrives through these two entry points
    assert "logging_obj.async_success_handler(result=result" in inspect.getsource(utils)
    assert "self.logging_obj.dispatch_success_handlers(" in inspect.getsource(streaming_handler.CustomStreamWrapper)
    assert "self.logging_obj.dispatch_success_handlers(" in inspect.getsource(streaming_iterator)
    assert "await self.async_success_handler(" in inspect.getsource(Logging.dispatch_success_handlers)
    # the Messages stream's logging is looked up on the class when the stream starts
    source = inspect.getsource(PassThroughStreamingHandler.chunk_processor)
    assert "route_streaming_logging or PassThroughStreamingHandler.route_streaming_logging_to_handler" in source
    # the Router's success callback reads only total_tokens from the payload
    router_source = inspect.getsource(Router.deployment_callback_on_success)
    assert router_source.count("standard_logging_object.get(") == 1 and "standard_logging_object[" not in router_source
    assert 'standard_logging_object.get("total_tokens"' in router_source
