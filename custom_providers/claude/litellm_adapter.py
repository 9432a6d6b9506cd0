"""LiteLLM's Anthropic provider, adapted so a Claude subscription stream is read event by event.

A Messages stream is complete only with its `message_stop` event (or ends with an `error` event).
Two LiteLLM 1.108.7 paths read Claude streams, and `register()` adapts both where LiteLLM looks them up
by name at call time:

- chat completions (`litellm/llms/anthropic/chat/handler.py` builds `ModelResponseIterator`): stock,
  an upstream stream that closes cleanly before `message_stop` becomes a chat stream that ends with
  `finish_reason: "stop"` and `data: [DONE]`, a truncated answer that looks complete. The subclass
  notes the terminal event and raises when the body ends without one; the raise reaches the client as
  LiteLLM's stream error event (and, before the first chunk, lets the router fail over).
- Messages (`litellm.AnthropicMessagesConfig`, chosen by `ProviderConfigManager` for every call the
  Router makes to an `anthropic/` deployment): the relay. When the client itself spoke Messages
  (custom_providers/client_request.py) and the deployment holds a subscription token, the subclass
  sends the client's own JSON and headers with only the edits listed in custom_providers/claude/relay.py
  (instead of LiteLLM's filtered, re-derived request), and passes the upstream's stream on as whole
  events (custom_providers/sse.py), each as its exact bytes, closing a stream cut before `message_stop`
  with an Anthropic `error` event and keeping `ping` in its place (see `relay_events`). The Router
  still chooses the account, retries and fails over; the relay is what the chosen deployment does.

Only subscription streams are adapted (requests LiteLLM sent with the OAuth beta, which is what every
Claude pool deployment sends); other Anthropic deployments behave as stock.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import litellm
from litellm.llms.anthropic.chat import handler
from litellm.llms.anthropic.common_utils import AnthropicError
from litellm.llms.anthropic.pass_through.messages.transformation import AnthropicMessagesConfig
from litellm.utils import ProviderConfigManager

from custom_providers import client_request
from custom_providers.claude import relay
from custom_providers.claude.settings import ClaudeSettings
from custom_providers.claude.shaping import OAUTH_BETA
from custom_providers.sse import CUT_BEFORE_TERMINAL, SSEDecoder
TERMINAL = frozenset({"message_stop", "error"})
_STOCK_ITERATOR = handler.ModelResponseIterator


def _sent_with_oauth(response: Any) -> bool:
    try:
        betas = response.request.headers.get("anthropic-beta", "")
    except (AttributeError, RuntimeError):  # no request attached: not one of ours
        return False
    return OAUTH_BETA in betas


class EndCheckedIterator(_STOCK_ITERATOR):  # type: ignore[misc, valid-type]
    """The stock reader plus one fact: whether the terminal event arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.terminal_seen = False
        self.checked = _sent_with_oauth(kwargs.get("response"))

    def chunk_parser(self, chunk: dict) -> Any:
        if isinstance(chunk, dict) and chunk.get("type") in TERMINAL:
            self.terminal_seen = True
        return super().chunk_parser(chunk)

    def _cut(self) -> AnthropicError:
        return AnthropicError(status_code=502, message=CUT_BEFORE_TERMINAL)

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except StopIteration:
            if self.checked and not self.terminal_seen:
                raise self._cut() from None
            raise

    async def __anext__(self) -> Any:
        try:
            return await super().__anext__()
        except StopAsyncIteration:
            if self.checked and not self.terminal_seen:
                raise self._cut() from None
            raise


def closing_event(message: str = CUT_BEFORE_TERMINAL) -> bytes:
    """The Anthropic `error` event that ends a stream cut before `message_stop`."""
    data = {"type": "error", "error": {"type": "api_error", "message": message}}
    return b"event: error\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


async def relay_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The upstream's Messages stream as whole events, byte for byte, closed with an error if cut.

    - Each yielded chunk is one or more complete events exactly as received (unknown event types
      and fields included); a fragment left by a cut is dropped, not glued to the error event.
    - `ping` keeps its place: while the stream may still fail over, LiteLLM's router holds lifecycle
      events (`message_start`, ...) back until content arrives but forwards a chunk made only of
      pings at once, so a ping would overtake `message_start`. A ping-only chunk before the first
      `content_block_delta` therefore travels with the next events.
    """
    decoder = SSEDecoder()
    ended = committed = False
    held = b""
    try:
        async for chunk in chunks:
            events = decoder.feed(chunk)
            if not events:
                continue
            names = {e.type for e in events if not e.is_blank}
            ended = ended or bool(names & TERMINAL)
            out = held + b"".join(e.raw for e in events)
            if not committed and names <= {"ping"}:
                held = out
                continue
            held = b""
            committed = committed or "content_block_delta" in names
            yield out
    except httpx.TransportError:
        pass  # the connection broke: reported below, in the client's dialect
    if held:
        yield held
    if not ended:
        yield closing_event()


def _relayed(token: Any) -> client_request.ClientRequest | None:
    """The client's request when this call relays it: the client spoke Messages and the deployment
    holds a subscription token. Cross-dialect calls (LiteLLM bridging another API onto Messages)
    and ordinary Anthropic deployments keep LiteLLM's own request building."""
    client = client_request.current()
    if client is None or client.dialect != "anthropic" or not relay.is_subscription_token(token):
        return None
    return client


def _param(litellm_params: Any, key: str) -> Any:
    if isinstance(litellm_params, dict):
        return litellm_params.get(key)
    return getattr(litellm_params, key, None)


_DEFAULTS = ClaudeSettings()


class ClaudeMessagesConfig(AnthropicMessagesConfig):
    """`/v1/messages` to a Claude subscription deployment: the client's request relayed, the answer's
    stream read event by event."""

    def validate_anthropic_messages_environment(
        self, headers: dict, model: str, messages: list[object], optional_params: dict, litellm_params: dict,
        api_key: str | None = None, api_base: str | None = None,
    ) -> tuple[dict, str | None]:
        client = _relayed(api_key)
        if client is None:
            return super().validate_anthropic_messages_environment(
                headers=headers, model=model, messages=messages, optional_params=optional_params,
                litellm_params=litellm_params, api_key=api_key, api_base=api_base)
        return relay.relay_headers(client.headers, token=str(api_key), user_agent=_user_agent(headers)), api_base

    def transform_anthropic_messages_request(
        self, model: str, messages: list[dict], anthropic_messages_optional_request_params: dict,
        litellm_params: Any, headers: dict,
    ) -> dict:
        client = _relayed(_param(litellm_params, "api_key"))
        if client is None:
            return super().transform_anthropic_messages_request(
                model=model, messages=messages,
                anthropic_messages_optional_request_params=anthropic_messages_optional_request_params,
                litellm_params=litellm_params, headers=headers)
        return relay.relay_body(client.body(), model=model)

    def should_retry_anthropic_messages_on_http_error(
        self, e: httpx.HTTPStatusError, litellm_params: Any, request_body: object = None
    ) -> bool:
        # Stock LiteLLM may resend a refused request with thinking signatures stripped: an edit the
        # relay does not make. The Router's failover to another account still applies.
        if _relayed(_param(litellm_params, "api_key")) is not None:
            return False
        return super().should_retry_anthropic_messages_on_http_error(e, litellm_params, request_body)

    def get_async_streaming_response_iterator(
        self, model: str, httpx_response: httpx.Response, request_body: dict, litellm_logging_obj: Any
    ) -> AsyncIterator:
        stock = super().get_async_streaming_response_iterator(
            model=model, httpx_response=httpx_response, request_body=request_body,
            litellm_logging_obj=litellm_logging_obj)
        if not _sent_with_oauth(httpx_response):
            return stock
        return relay_events(stock)


def _user_agent(headers: Mapping[str, Any]) -> str:
    """The provider's configured user agent, which the hook's per-attempt preparation put in the call's
    extra headers (`shaping.prepare_call`); LiteLLM hands them here merged. The class holds no settings."""
    for name, value in headers.items():
        if name.lower() == "user-agent" and value:
            return str(value)
    return _DEFAULTS.user_agent


def register() -> None:
    """Install both adaptations where LiteLLM looks them up (idempotent)."""
    handler.ModelResponseIterator = EndCheckedIterator
    if litellm.AnthropicMessagesConfig is not ClaudeMessagesConfig:
        litellm.AnthropicMessagesConfig = ClaudeMessagesConfig
        # the provider manager caches one config instance per (model, provider)
        ProviderConfigManager._get_provider_anthropic_messages_config_cached.cache_clear()


__all__ = ["ClaudeMessagesConfig", "EndCheckedIterator", "closing_event", "register", "relay_events"]
