"""The LiteLLM internals the Codex adapter (custom_providers/codex/litellm_adapter.py) relies on.

Each failure says what moved; revisit the adapter (and `shaping.prepare_call`'s notes) before
bumping the LiteLLM pin.
"""

from __future__ import annotations

import inspect
import os
import re
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "true")

import litellm  # noqa: E402
import pytest  # noqa: E402
from litellm.litellm_core_utils.get_llm_provider_logic import get_llm_provider  # noqa: E402
from litellm.llms.base_llm.chat.transformation import BaseLLMException  # noqa: E402
from litellm.llms.chatgpt.chat.transformation import ChatGPTConfig  # noqa: E402
from litellm.llms.chatgpt.common_utils import GetAccessTokenError  # noqa: E402
from litellm.llms.chatgpt.responses.transformation import ChatGPTResponsesAPIConfig  # noqa: E402
from litellm.llms.openai.responses.transformation import OpenAIResponsesAPIConfig  # noqa: E402
from litellm.types.router import GenericLiteLLMParams  # noqa: E402
from litellm.types.utils import LlmProviders  # noqa: E402
from litellm.utils import ProviderConfigManager  # noqa: E402

from custom_providers.codex.litellm_adapter import CodexChatConfig, CodexResponsesConfig, register  # noqa: E402

ADAPTER = "custom_providers/codex/litellm_adapter.py"
PINNED = "1.108.7"


def revisit(what: str) -> str:
    return f"LiteLLM changed: {what} -- revisit {ADAPTER}"


def params(func) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p != "self"]


def test_litellm_version_is_the_pinned_one():
    assert version("litellm") == PINNED, revisit(f"installed {version('litellm')}, adapter written for {PINNED}")
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert re.search(rf'"litellm\[proxy\]=={re.escape(PINNED)}"', pyproject), "pyproject pin moved; update PINNED"


@pytest.mark.parametrize("owner, method, expected", [
    (ChatGPTConfig, "_get_openai_compatible_provider_info", ["model", "api_base", "api_key", "custom_llm_provider"]),
    (ChatGPTConfig, "validate_environment",
     ["headers", "model", "messages", "optional_params", "litellm_params", "api_key", "api_base"]),
    (ChatGPTConfig, "api_base_without_login", []),
    (ChatGPTResponsesAPIConfig, "__init__", ["authenticator"]),
    (ChatGPTResponsesAPIConfig, "validate_environment", ["headers", "model", "litellm_params"]),
    (ChatGPTResponsesAPIConfig, "get_complete_url", ["api_base", "litellm_params"]),
    (ChatGPTResponsesAPIConfig, "transform_responses_api_request",
     ["model", "input", "response_api_optional_request_params", "litellm_params", "headers"]),
    (OpenAIResponsesAPIConfig, "transform_responses_api_request",
     ["model", "input", "response_api_optional_request_params", "litellm_params", "headers"]),
    (ChatGPTResponsesAPIConfig, "transform_response_api_response", ["model", "raw_response", "logging_obj"]),
    (ChatGPTResponsesAPIConfig, "transform_streaming_response", ["model", "parsed_chunk", "logging_obj"]),
    (ChatGPTResponsesAPIConfig, "get_error_class", ["error_message", "status_code", "headers"]),
    (ChatGPTResponsesAPIConfig, "map_openai_params", ["response_api_optional_params", "model", "drop_params"]),
    (ChatGPTResponsesAPIConfig, "should_fake_stream", ["model", "stream", "custom_llm_provider"]),
    (ChatGPTResponsesAPIConfig, "_attach_response_headers", ["completed_response", "raw_response"]),
])
def test_overridden_methods_keep_their_parameters(owner, method, expected):
    assert hasattr(owner, method), revisit(f"{owner.__name__}.{method} is gone")
    assert params(getattr(owner, method)) == expected, revisit(f"{owner.__name__}.{method} parameters changed")


def test_stock_authenticator_surface_the_stand_in_replaces():
    from litellm.llms.chatgpt.authenticator import Authenticator

    for name in ("get_api_base", "get_access_token", "get_account_id"):
        assert hasattr(Authenticator, name), revisit(f"Authenticator.{name} is gone")
    assert GetAccessTokenError(message="m", status_code=401).status_code == 401, revisit("GetAccessTokenError args")


def test_litellm_looks_the_classes_up_on_the_module_per_call():
    register()
    first = ProviderConfigManager.get_provider_responses_api_config(provider=LlmProviders.CHATGPT, model="gpt-5")
    second = ProviderConfigManager.get_provider_responses_api_config(provider=LlmProviders.CHATGPT, model="gpt-5")
    assert isinstance(first, CodexResponsesConfig), revisit("responses config is no longer read from litellm.*")
    assert first is not second, revisit("responses config is shared between calls (it holds a per-call name map)")
    chat = ProviderConfigManager.get_provider_chat_config(model="gpt-5", provider=LlmProviders.CHATGPT)
    assert isinstance(chat, CodexChatConfig), revisit("chat config is no longer read from litellm.*")


def test_provider_resolution_keeps_the_deployment_base_and_key_and_never_logs_in(tmp_path, monkeypatch):
    register()
    monkeypatch.setenv("CHATGPT_TOKEN_DIR", str(tmp_path / "none"))
    model, provider, key, base = get_llm_provider("chatgpt/gpt-5.1-codex", api_base="http://127.0.0.1:1/x",
                                                  api_key="at-1")
    assert (model, provider, key, base) == ("gpt-5.1-codex", "chatgpt", "at-1", "http://127.0.0.1:1/x"), \
        revisit("get_llm_provider no longer routes chatgpt through ChatGPTConfig provider info")
    assert get_llm_provider("chatgpt/gpt-5.1-codex")[2] is None  # boot-time: no key, no error, no login
    assert not (tmp_path / "none").exists()


def test_stock_config_still_drops_client_fields_so_the_subclass_is_needed():
    class Stub:
        def get_api_base(self):
            return "http://127.0.0.1:1"

    stock = ChatGPTResponsesAPIConfig(authenticator=Stub())
    body = stock.transform_responses_api_request(
        "gpt-5.1-codex", "hi", {"instructions": "mine", "prompt_cache_key": "k", "text": {"verbosity": "low"},
                                "parallel_tool_calls": False}, GenericLiteLLMParams(), {})
    assert "prompt_cache_key" not in body and "text" not in body and "parallel_tool_calls" not in body, \
        "stock ChatGPT config now keeps client fields: the override in " + ADAPTER + " may be removable"
    assert body["instructions"] != "mine", "stock config no longer prepends its prompt; simplify " + ADAPTER


def test_stock_error_mapping_still_files_the_codex_401_as_bad_request():
    body = '{"error": {"message": "expired", "type": "invalid_request_error", "code": "token_expired"}}'
    with pytest.raises(Exception) as info:
        litellm.exception_type(model="gpt-5", custom_llm_provider="chatgpt",
                               original_exception=BaseLLMException(status_code=401, message=body))
    assert isinstance(info.value, litellm.BadRequestError), \
        "LiteLLM now maps the Codex 401 itself: get_error_class in " + ADAPTER + " may be removable"


def test_client_request_fields_reach_the_provider_params():
    carried = GenericLiteLLMParams(proxy_server_request={"headers": {"originator": "x"}},
                                   litellm_metadata={"headers": {"originator": "x"}}, client_metadata={"a": 1})
    assert carried.proxy_server_request["headers"]["originator"] == "x", revisit("proxy_server_request not kept")
    assert carried.litellm_metadata["headers"]["originator"] == "x", revisit("litellm_metadata not kept")
    assert carried.client_metadata == {"a": 1}, revisit("client_metadata no longer reaches litellm_params")


def test_the_chat_bridge_reads_the_mode_from_the_model_map_and_a_served_name_is_bridged() -> None:
    from litellm.responses.bridge_check import responses_api_bridge_check

    from custom_providers.codex.litellm_adapter import serve_as_responses

    name = "gpt-5.77-contract-probe"
    stock, _ = responses_api_bridge_check(model=name, custom_llm_provider="chatgpt")
    assert stock.get("mode") != "responses", revisit("LiteLLM now bridges unknown chatgpt models by itself")
    serve_as_responses(f"chatgpt/{name}")
    ours, model = responses_api_bridge_check(model=name, custom_llm_provider="chatgpt")
    assert ours.get("mode") == "responses" and model == name, revisit("responses_api_bridge_check")


def test_the_responses_handler_builds_its_stream_iterator_by_name() -> None:
    """custom_providers/codex/relay_stream.py swaps the name LiteLLM's handler builds streamed attempts with."""
    from litellm.llms.custom_httpx import llm_http_handler
    from litellm.responses.streaming_iterator import ResponsesAPIStreamingIterator

    source = inspect.getsource(llm_http_handler.BaseLLMHTTPHandler.async_response_api_handler)
    assert "return ResponsesAPIStreamingIterator(" in source, revisit("the Responses handler's stream iterator")
    assert "responses_api_provider_config=responses_api_provider_config" in source, revisit("iterator kwargs")
    for name in ("_next_event", "_process_chunk", "_maybe_raise_for_error_event", "_raise_if_ended_without_terminal_event",
                 "_stream_ended_early_error", "_handle_failure", "_check_max_streaming_duration",
                 "_map_error_event_exception"):
        assert callable(getattr(ResponsesAPIStreamingIterator, name, None)), revisit(f"ResponsesAPIStreamingIterator.{name}")
    stock_anext = inspect.getsource(ResponsesAPIStreamingIterator.__anext__)
    assert "self._next_event()" in stock_anext, revisit("ResponsesAPIStreamingIterator.__anext__ delegates")


def test_the_proxy_passes_bytes_chunks_on_and_can_skip_done() -> None:
    """LiteLLM's proxy writes a Responses stream's `bytes` chunks as they are and ends without
    `data: [DONE]` when the request carries gateway.hook.SKIP_DONE (docs/relay.md)."""
    from litellm.proxy import proxy_server

    source = inspect.getsource(proxy_server.async_data_generator)
    assert 'chunk.startswith(("data:", "event:", ":"))' in source, revisit("the proxy's raw bytes passthrough")
    assert 'request_data.get("_litellm_skip_openai_stream_done")' in source, revisit("the proxy's [DONE] switch")
