"""The LiteLLM internals the Claude adapter (custom_providers/claude/litellm_adapter.py) relies on,
compared with stock LiteLLM. A failure names what moved; revisit the adapter before bumping the pin."""

from __future__ import annotations

import asyncio
import inspect
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "true")

import httpx  # noqa: E402
import litellm  # noqa: E402
import pytest  # noqa: E402
from litellm.llms.anthropic.chat import handler  # noqa: E402
from litellm.llms.anthropic.common_utils import AnthropicError  # noqa: E402
from litellm.types.utils import LlmProviders  # noqa: E402
from litellm.utils import ProviderConfigManager  # noqa: E402

from custom_providers.claude import litellm_adapter  # noqa: E402
from custom_providers.claude.shaping import OAUTH_BETA  # noqa: E402
from custom_providers.sse import iter_events  # noqa: E402

STARTED = (b'data: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],'
           b'"model":"claude-x","stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}')
DELTA = b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi message_stop"}}'


def _response(betas: str) -> httpx.Response:
    request = httpx.Request("POST", "http://claude/v1/messages", headers={"anthropic-beta": betas})
    return httpx.Response(200, request=request)


async def _lines(*lines: bytes):
    for line in lines:
        yield line.decode()


async def _drain(iterator) -> list:
    return [chunk async for chunk in iterator]


def test_the_chat_handler_builds_its_stream_reader_by_module_name() -> None:
    source = inspect.getsource(handler.make_call)
    assert "ModelResponseIterator(" in source, "make_call no longer builds ModelResponseIterator by name"
    assert "response=response" in source


def test_stock_chat_reader_ends_quietly_without_message_stop_and_ours_raises() -> None:
    stock = litellm_adapter._STOCK_ITERATOR(streaming_response=_lines(STARTED, DELTA), sync_stream=False,
                                            response=_response(OAUTH_BETA))
    asyncio.run(_drain(stock))  # stock: no error, the chat client would see finish_reason stop
    ours = litellm_adapter.EndCheckedIterator(streaming_response=_lines(STARTED, DELTA), sync_stream=False,
                                              response=_response(OAUTH_BETA))
    with pytest.raises(AnthropicError):
        asyncio.run(_drain(ours))
    other = litellm_adapter.EndCheckedIterator(streaming_response=_lines(STARTED, DELTA), sync_stream=False,
                                               response=_response("some-other-beta"))
    asyncio.run(_drain(other))  # not a subscription request: stock behaviour


def test_the_messages_config_is_looked_up_on_the_litellm_module() -> None:
    litellm_adapter.register()
    config = ProviderConfigManager.get_provider_anthropic_messages_config(model="claude-x", provider=LlmProviders.ANTHROPIC)
    assert isinstance(config, litellm_adapter.ClaudeMessagesConfig)
    assert litellm.AnthropicMessagesConfig is litellm_adapter.ClaudeMessagesConfig
    assert "get_async_streaming_response_iterator" in vars(litellm_adapter.ClaudeMessagesConfig)


def test_a_cut_messages_stream_ends_with_an_anthropic_error_event() -> None:
    async def chunks():
        yield b"event: message_start\n" + STARTED + b"\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n"
        yield b"event: content_block_delta\n" + DELTA + b"\n\nevent: message_st"

    out = b"".join(asyncio.run(_drain(litellm_adapter.relay_events(chunks()))))
    assert [e.type for e in iter_events(out)] == ["message_start", "ping", "content_block_delta", "error"]
