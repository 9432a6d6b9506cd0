"""LiteLLM's `chatgpt/` provider, adapted to serve many ChatGPT accounts from one gateway process.

Stock, the provider reads one `auth.json` per process (and may start an interactive device login),
ignores the deployment's `api_base`, prepends its own 7.5k-character prompt, drops `prompt_cache_key`,
`text` and `parallel_tool_calls`, and files the backend's 401 under "bad request" so the router never
retries it on another account (docs/architecture.md, "LiteLLM facts"). These subclasses keep LiteLLM's
split (headers in `validate_environment`, URL in `get_complete_url`, body in the request transform,
aggregation in the response transform) and delegate every rule to `shaping`, `tool_names` and
`stream`. The token and `ChatGPT-Account-Id` arrive per attempt from the gateway hook
(`shaping.prepare_call`); nothing here reads a token file. `register()` installs them on the `litellm`
module, where LiteLLM looks the classes up at call time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
import litellm
from litellm.exceptions import AuthenticationError, RateLimitError
from litellm.litellm_core_utils.llm_response_utils.convert_dict_to_response import safe_convert_created_field
from litellm.llms.chatgpt.chat.transformation import ChatGPTConfig
from litellm.llms.chatgpt.common_utils import GetAccessTokenError
from litellm.llms.chatgpt.responses.transformation import ChatGPTResponsesAPIConfig
from litellm.llms.openai.common_utils import OpenAIError
from litellm.llms.openai.openai import OpenAIConfig
from litellm.llms.openai.responses.transformation import OpenAIResponsesAPIConfig
from litellm.types.llms.openai import ResponsesAPIResponse

from custom_providers import client_request
from custom_providers.codex import relay_stream, shaping
from custom_providers.codex.settings import CodexSettings
from custom_providers.codex.stream import StreamError, StreamIncomplete, aggregate
from custom_providers.transport import is_cut

if TYPE_CHECKING:
    from litellm.litellm_core_utils.litellm_logging import Logging as LiteLLMLoggingObj

PROVIDER = "chatgpt"
NO_TOKEN = (
    "No ChatGPT access token for this deployment: the gateway's deployment hook sets one per account "
    "(log in with `python -m gateway login codex`)."
)
_BODY_FRAMING = ("content-encoding", "content-length", "transfer-encoding")


DEFAULTS = CodexSettings()


def settings_of(litellm_params: Any) -> CodexSettings:
    """The Codex provider's settings for this call, as the gateway hook handed them over per attempt
    (`shaping.prepare_call`); the defaults for a call that did not pass through the hook."""
    settings = _param(litellm_params, shaping.SETTINGS_KEY)
    return settings if isinstance(settings, CodexSettings) else DEFAULTS


class _NoLogin:
    """Stands in for LiteLLM's `Authenticator`, which reads auth.json and can block on a device login."""

    def get_api_base(self) -> str:
        return DEFAULTS.api_base  # every gateway deployment carries its provider's api_base

    def get_access_token(self) -> str:
        raise GetAccessTokenError(message=NO_TOKEN, status_code=401)

    def get_account_id(self) -> None:
        return None


class CodexChatConfig(ChatGPTConfig):
    """Provider info for `chatgpt/` deployments; chat itself is bridged to Responses (`mode: responses`)."""

    def __init__(self, api_key: str | None = None, api_base: str | None = None,
                 custom_llm_provider: str = "openai") -> None:
        OpenAIConfig.__init__(self)  # not ChatGPTConfig.__init__: its Authenticator creates dirs and logs in
        self.authenticator = _NoLogin()

    def _get_openai_compatible_provider_info(
        self, model: str, api_base: str | None, api_key: str | None, custom_llm_provider: str
    ) -> tuple[str | None, str | None, str]:
        # A missing key is normal here (deployments are built at boot, before any hook ran): never raise.
        return api_base or DEFAULTS.api_base, api_key, custom_llm_provider

    def validate_environment(
        self,
        headers: dict,
        model: str,
        messages: list,
        optional_params: dict,
        litellm_params: dict,
        api_key: str | None = None,
        api_base: str | None = None,
    ) -> dict:
        if not api_key:
            raise AuthenticationError(message=NO_TOKEN, llm_provider=PROVIDER, model=model)
        settings = settings_of(litellm_params)
        defaults = shaping.upstream_headers(
            client_headers(litellm_params), originator=settings.originator, user_agent=settings.user_agent
        )
        return _merged({"Authorization": f"Bearer {api_key}", "content-type": "application/json", **defaults}, headers)


class CodexResponsesConfig(ChatGPTResponsesAPIConfig):
    """One instance per call (LiteLLM builds it per request), so it may hold that call's tool-name map."""

    def __init__(self, authenticator: Any = None) -> None:
        super().__init__(authenticator=authenticator or _NoLogin())
        self.short_to_original: dict[str, str] = {}
        self.url = DEFAULTS.api_base
        # The client spoke Responses: its stream is relayed as sent (custom_providers/codex/relay_stream.py).
        self.relay_stream = False

    def map_openai_params(self, response_api_optional_params: Any, model: str, drop_params: bool) -> dict:
        # The stock OpenAI mapping raises on gpt-5 temperature/top_p and rewrites efforts from the cost map;
        # the backend refuses those fields anyway and judges efforts itself.
        return {k: v for k, v in dict(response_api_optional_params).items() if k not in shaping.DROPPED_FIELDS}

    def validate_environment(self, headers: dict, model: str, litellm_params: Any) -> dict:
        token = getattr(litellm_params, "api_key", None) if litellm_params is not None else None
        if not token:
            raise AuthenticationError(message=NO_TOKEN, llm_provider=PROVIDER, model=model)
        settings = settings_of(litellm_params)
        defaults = shaping.upstream_headers(
            client_headers(litellm_params), originator=settings.originator, user_agent=settings.user_agent
        )
        base = {"Authorization": f"Bearer {token}", "content-type": "application/json",
                "accept": "text/event-stream", **defaults}
        return _merged(base, headers or {})

    def get_complete_url(self, api_base: str | None, litellm_params: dict) -> str:
        self.url = f"{(api_base or settings_of(litellm_params).api_base).rstrip('/')}/responses"
        return self.url

    def transform_responses_api_request(
        self, model: str, input: Any, response_api_optional_request_params: dict, litellm_params: Any, headers: dict
    ) -> dict:
        client = client_request.current()
        if client is not None and client.dialect == "responses":
            # The client spoke Responses: its own JSON (unknown top-level fields included) rather than
            # LiteLLM's list of known parameters; the entry's effort comes from the hook's `reasoning`.
            request = client.body()
            request["model"] = model
            self.relay_stream = True
            if response_api_optional_request_params.get("reasoning") is not None:
                request["reasoning"] = response_api_optional_request_params["reasoning"]
        else:  # a bridge (chat or Messages onto Responses): LiteLLM's translation
            request = OpenAIResponsesAPIConfig.transform_responses_api_request(
                self, model, input, response_api_optional_request_params, litellm_params, headers
            )
            client_metadata = _param(litellm_params, "client_metadata")
            if client_metadata is not None and "client_metadata" not in request:
                request["client_metadata"] = client_metadata
        body, self.short_to_original = shaping.shape_request(
            request, default_instructions=settings_of(litellm_params).default_instructions
        )
        if not shaping.has_session_header(headers):
            session = body.get("prompt_cache_key") or _param(litellm_params, "litellm_session_id")
            if session:
                headers["session_id"] = str(session)  # the same dict LiteLLM then sends
        return body

    def transform_streaming_response(self, model: str, parsed_chunk: dict, logging_obj: "LiteLLMLoggingObj") -> Any:
        shaping.restore_tool_names(parsed_chunk, self.short_to_original)
        return super().transform_streaming_response(model, parsed_chunk, logging_obj)

    def transform_response_api_response(
        self, model: str, raw_response: httpx.Response, logging_obj: "LiteLLMLoggingObj"
    ) -> ResponsesAPIResponse:
        logging_obj.post_call(original_response=raw_response.text, additional_args={"complete_input_dict": {}})
        try:
            payload = aggregate(raw_response.text)
        except StreamError as exc:
            raise OpenAIError(status_code=exc.status_code, message=exc.message,
                              headers=dict(raw_response.headers)) from exc
        shaping.restore_tool_names(payload, self.short_to_original)
        if "created_at" in payload:
            payload["created_at"] = safe_convert_created_field(payload["created_at"])
        try:
            response = ResponsesAPIResponse(**payload)
        except Exception:  # the backend adds fields faster than LiteLLM's model learns them
            response = ResponsesAPIResponse.model_construct(**payload)
        self._attach_response_headers(completed_response=response, raw_response=raw_response)
        return response

    def get_error_class(self, error_message: str, status_code: int, headers: dict | httpx.Headers) -> Exception:
        """401 and 429 as LiteLLM's own classes: the router then fails over, and the failure hook can
        refresh the token or block the account, reading the untouched upstream body and headers."""
        kept = {k: v for k, v in dict(headers or {}).items() if k.lower() not in _BODY_FRAMING}  # body is decoded
        upstream = httpx.Response(status_code, headers=kept, content=(error_message or "").encode(),
                                  request=httpx.Request("POST", self.url))
        if status_code == 401:
            return AuthenticationError(message=error_message, llm_provider=PROVIDER, model="", response=upstream)
        if status_code == 429:
            return RateLimitError(message=error_message, llm_provider=PROVIDER, model="", response=upstream,
                                  body=_json_or_none(upstream))
        if status_code == 500 and not headers:  # no HTTP response at all: a transport failure, not a 500
            return _transport_error(error_message)
        return OpenAIError(status_code=status_code, message=error_message, headers=headers)

    def should_fake_stream(self, model: str | None, stream: bool | None, custom_llm_provider: str | None = None) -> bool:
        return False  # the backend streams natively; asking LiteLLM's model map would only guess


# Names `serve_as_responses` put into LiteLLM's model table, oldest first, with what was there before
# (None: nothing). Bounded: a client may send any name the `gpt-5*` wildcard matches.
_RESPONSES_MODELS: OrderedDict[str, dict | None] = OrderedDict()
MAX_REGISTERED_NAMES = 256


def serve_as_responses(model: str) -> None:
    """Make LiteLLM bridge every call for `model` to the Responses API, as the Codex backend needs.

    LiteLLM decides whether chat completions (and Messages, through chat) are bridged to Responses
    from its model map (`litellm/responses/bridge_check.py`), where a deployment's `mode: responses`
    is registered under the deployment's own model name: `chatgpt/gpt-5*` for a wildcard entry, which
    never matches the name a client asks for. A Codex pool speaks Responses whatever the model, so the
    name the router resolved is registered the same way before LiteLLM asks. Only the last
    `MAX_REGISTERED_NAMES` names stay registered (the oldest entry is put back as it was), so made-up
    names cannot grow `litellm.model_cost` without end.
    """
    name = model if model.startswith(f"{PROVIDER}/") else f"{PROVIDER}/{model}"
    if name in _RESPONSES_MODELS:
        _RESPONSES_MODELS.move_to_end(name)
        return
    known = litellm.model_cost.get(name)
    if isinstance(known, dict) and known.get("mode") == "responses":
        return  # LiteLLM's own table already says so: nothing to add
    litellm.register_model({name: {**(known if isinstance(known, dict) else {}), "mode": "responses",
                                   "litellm_provider": PROVIDER}})
    _RESPONSES_MODELS[name] = known if isinstance(known, dict) else None
    while len(_RESPONSES_MODELS) > MAX_REGISTERED_NAMES:
        _forget(*_RESPONSES_MODELS.popitem(last=False))


def _forget(name: str, previous: dict | None) -> None:
    if previous is None:
        litellm.model_cost.pop(name, None)
    else:
        litellm.model_cost[name] = previous
    invalidate = getattr(litellm.utils, "_invalidate_model_cost_lowercase_map", None)
    if invalidate is not None:  # LiteLLM's case-insensitive view of the table, rebuilt on next use
        invalidate()


def register() -> None:
    """Install the subclasses on `litellm` (idempotent). They hold no settings: each call brings the
    provider's own (`settings_of`)."""
    litellm.ChatGPTConfig = CodexChatConfig
    litellm.ChatGPTResponsesAPIConfig = CodexResponsesConfig
    relay_stream.install()


def client_headers(litellm_params: Any) -> dict[str, str]:
    """The headers the client sent to the proxy, as LiteLLM hands them down to the provider.

    The proxy records them in `proxy_server_request.headers` and copies them into the call's
    (`litellm_`)`metadata.headers`; direct SDK calls have neither, and get the defaults.
    """
    request = _param(litellm_params, "proxy_server_request")
    if isinstance(request, Mapping) and isinstance(request.get("headers"), Mapping):
        return dict(request["headers"])
    for key in ("litellm_metadata", "metadata"):
        meta = _param(litellm_params, key)
        if isinstance(meta, Mapping) and isinstance(meta.get("headers"), Mapping):
            return dict(meta["headers"])
    return {}


def _param(litellm_params: Any, key: str) -> Any:
    if isinstance(litellm_params, Mapping):
        return litellm_params.get(key)
    return getattr(litellm_params, key, None)


def _merged(base: dict[str, str], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` wins, compared case-insensitively so no header is ever sent twice in two spellings."""
    lowered = {name.lower() for name in override}
    return {**{k: v for k, v in base.items() if k.lower() not in lowered}, **override}


def _transport_error(detail: str) -> OpenAIError:
    """A plain message instead of the HTTP client's internals (aiohttp's TransferEncodingError text)."""
    if is_cut(detail):
        cut = StreamIncomplete()
        return OpenAIError(status_code=cut.status_code, message=cut.message)
    return OpenAIError(status_code=502, message="Could not reach the Codex backend.")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


__all__ = ["CodexChatConfig", "CodexResponsesConfig", "register", "client_headers", "serve_as_responses"]
