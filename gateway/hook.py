"""The LiteLLM CustomLogger named in config/litellm.yaml (`litellm_settings.callbacks`).

It stays thin: the account store, the quota book and the provider shaping do the work. LiteLLM calls
it at four points of every request:
- before routing: keep the router's deployments in step with auth-dir, note the model;
- when the router filters deployments: drop accounts that are blocked, disabled or need a login;
- after the router picked a deployment, on every attempt: put that account's fresh token and the
  provider's headers into the call (this is the only place tokens enter a request);
- after a failed attempt: a 401 refreshes the token (only if the failed token is still current),
  a 429 blocks the whole account until its reset time.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from gateway import litellm_app  # (also sets LiteLLM's offline flags before it is imported)
from custom_providers import client_request
from gateway import drain, request_context, request_log
from gateway.error_rewrite import clean_message
from custom_providers.errors import RefreshFailed
from custom_providers.provider import Failure
from gateway.errors import NeedsLogin, no_accounts_message, seconds_until, usage_limit_message
from gateway.runtime import get_runtime
from gateway.selection import candidates_from
from gateway.session import session_id
from gateway.usage import tokens_from

import litellm  # noqa: E402
from fastapi import HTTPException  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

log = logging.getLogger("subgate.hook")

# LiteLLM's proxy writes `data: [DONE]` at the end of a stream unless the request carries this key.
SKIP_DONE = "_litellm_skip_openai_stream_done"


def _call_type(call_type: Any) -> str:
    return str(getattr(call_type, "value", call_type) or "")


def _exception_parts(exc: Exception) -> tuple[int | None, Mapping[str, str], str]:
    status = getattr(exc, "status_code", None)
    headers: Mapping[str, str] = {}
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "headers", None) is not None:
        headers = dict(response.headers)
    extra = getattr(exc, "litellm_response_headers", None)
    if extra:
        headers = {**headers, **dict(extra)}
    body = ""
    if response is not None:
        try:
            body = response.text
        except Exception:
            body = ""
    return status, headers, body or str(getattr(exc, "message", "") or exc)


class GatewayHook(CustomLogger):
    # Its success event reads the answer in whatever shape the upstream gave it: for subscription
    # calls LiteLLM's payload building is skipped (gateway/success_logging.py).
    reads_raw_success = True

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> dict:
        rt = get_runtime()
        rt.ensure_started()
        rt.refresh_accounts()
        rt.sync_router()
        # `litellm --config` has no front layer to open the request's facts: this is the request's start
        facts = request_context.current() if client_request.current() is not None else request_context.begin()
        facts.model = str(data.get("model") or "")
        facts.provider = rt.provider_for_model(facts.model)
        if facts.provider and not rt.usable_accounts(facts.provider):
            # Said here, not as LiteLLM's "Invalid model name" 400, so `litellm --config` tells how to log in too.
            facts.no_account = True
            raise HTTPException(status_code=503, detail=no_accounts_message(facts.provider))
        request = data.get("proxy_server_request")
        headers = request.get("headers") if isinstance(request, Mapping) else None
        facts.session_id = session_id(headers if isinstance(headers, Mapping) else {}, data)
        if client_request.current() is None:  # `litellm --config`: no front layer recorded the bytes
            client_request.record(client_request.ClientRequest(
                _dialect(call_type), _lower(headers), parsed=_client_fields(data)))
        if facts.provider:  # after the client's fields are recorded: the policy is the gateway's, not the client's
            litellm_app.scope_retries(data, facts.model, rt.settings.request_retry)
        provider = rt.providers.get(facts.provider) if facts.provider else None
        if provider is not None and provider.relayed_stream_dialect == _dialect(call_type):
            # The answer is the upstream's stream as sent (docs/relay.md): LiteLLM's proxy must not
            # end it with the `data: [DONE]` the upstream never sent.
            data[SKIP_DONE] = True
        return data

    async def async_post_call_failure_hook(
        self, request_data: dict, original_exception: Exception, user_api_key_dict: Any, traceback_str: str | None = None
    ) -> HTTPException | None:
        """`litellm --config` only (LiteLLM's proxy calls it; `python -m gateway.amp` renders in
        gateway/error_rewrite.py): the status, Retry-After and words the hook's classification gives,
        for LiteLLM's proxy to render. None keeps LiteLLM's own answer (nothing classified it)."""
        facts = request_context.current()
        litellm_status = getattr(original_exception, "status_code", None)
        verdict = facts.verdict(litellm_status if isinstance(litellm_status, int) else 500)
        if verdict.kind == "no_account":
            return HTTPException(status_code=503, detail=no_accounts_message(facts.provider))
        if verdict.kind == "quota":
            reset = verdict.reset_at or (get_runtime().earliest_reset(facts.provider) if facts.provider else None)
            if reset is None:
                return HTTPException(status_code=429, detail=facts.upstream_message or "Rate limited upstream.")
            return HTTPException(status_code=429, detail=usage_limit_message(facts.model, reset),
                                 headers={"retry-after": str(seconds_until(reset))})
        if verdict.kind == "unclassified" or verdict.status == litellm_status:
            return None
        return HTTPException(status_code=verdict.status, detail=facts.upstream_message or str(original_exception))

    async def async_filter_deployments(
        self,
        model: str,
        healthy_deployments: list,
        messages: Any,
        request_kwargs: dict | None = None,
        parent_otel_span: Any = None,
    ) -> list[dict]:
        rt = get_runtime()
        facts = request_context.current()
        plain = [d for d in healthy_deployments if not (d.get("model_info") or {}).get("gw_account")]
        if plain:  # an ordinary LiteLLM entry (API key in the YAML): not ours to choose
            return healthy_deployments
        blocked: list[float] = []

        def describe(acct_id: str) -> tuple[str, int] | None:
            acct = rt.store.get(acct_id)
            if acct is None or not acct.usable:
                return None
            until = rt.quota.blocked_until(acct_id)
            if until is not None:
                blocked.append(until)
                return None
            return acct.path.name, acct.priority

        candidates = candidates_from(healthy_deployments, describe)
        provider = facts.provider or ((healthy_deployments[0].get("model_info") or {}).get("gw_provider") if healthy_deployments else "")
        # An account already tried in this request is not tried again (a timeout or 5xx on the only
        # account ends the request with that error instead of repeating it request-retry times),
        # except after a 401 whose token has since been refreshed.
        tried = set(facts.accounts_tried) - facts.retry_same
        fresh = [c for c in candidates if c.account_id not in tried]
        if candidates and not fresh and facts.last_error is not None:
            raise facts.last_error
        chosen = rt.selector.choose(
            model, fresh or candidates, tried=tried, session=facts.session_id, provider=str(provider or "")
        )
        if chosen is not None:
            facts.retry_same.discard(chosen.account_id)
        if chosen is None:
            if healthy_deployments:
                facts.blocked_until = min(blocked) if blocked else None
                facts.no_account = not blocked
            return []
        return [chosen.deployment]

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict | None:
        info = kwargs.get("model_info") or {}
        acct_id = info.get("gw_account")
        if not acct_id:
            return kwargs
        rt = get_runtime()
        acct = rt.store.get(acct_id)
        provider = info.get("gw_provider") or (acct.provider if acct else "")
        model = str(kwargs.get("model") or "")
        try:
            if acct is None:
                raise NeedsLogin("the account behind this deployment was removed")
            token = await rt.store.token(acct)
        except NeedsLogin as exc:
            raise litellm.AuthenticationError(message=str(exc), llm_provider=provider, model=model) from None
        except RefreshFailed as exc:
            raise litellm.ServiceUnavailableError(
                message=f"could not refresh the {provider} token: {exc}", llm_provider=provider, model=model
            ) from None
        request_context.current().accounts_tried.append(acct.id)
        request_log.note_attempt(kwargs.get("litellm_call_id"), acct.email)
        handler = rt.providers.get(provider)
        if handler is None:
            kwargs["api_key"] = token
        else:
            handler.prepare_call(kwargs, _call_type(call_type), token=token, account_id=acct.account_id, model_info=info)
        return kwargs

    async def async_post_call_failure_deployment_hook(
        self,
        request_data: Mapping[str, Any],
        exception: Exception,
        call_type: Any,
        fallback_depth: int | None = None,
    ) -> None:
        info = request_data.get("model_info") or {}
        acct_id = info.get("gw_account") if isinstance(info, Mapping) else None
        if not acct_id:
            return
        rt = get_runtime()
        acct = rt.store.get(acct_id)
        facts = request_context.current()
        attempt = len(facts.accounts_tried)
        if acct is None or facts.failure_noted == attempt:
            return  # nested LiteLLM entry points (chat bridged onto Responses) report one failure twice
        facts.failure_noted = attempt
        status, headers, body = _exception_parts(exception)
        rt.headroom.observe(acct.id, acct.provider, headers)
        model = _model_group(request_data)
        message = request_log.log_upstream_error(acct.provider, acct.email, model, status, exception)
        handler = rt.providers.get(acct.provider)
        failure = handler.classify_failure(status, headers, body) if handler is not None else Failure("other")
        reset = failure.reset_at if failure.kind == "quota" else None
        facts.failure = failure  # the one classification; the renderers read it (RequestFacts.verdict)
        facts.upstream_status = _response_status(exception) or status
        facts.upstream_message = clean_message(message)
        rt.usage.record_failure(acct.id, acct.email, acct.provider, model, facts.upstream_status,
                                facts.upstream_message, reset)
        facts.last_error = exception
        if failure.kind == "auth":
            failed = str(request_data.get("api_key") or "")
            try:
                await rt.store.refresh(acct, failed_token=failed or None)
                facts.retry_same.add(acct.id)  # a newer token exists: one more try on this account
            except Exception as exc:
                log.warning("token refresh after 401 failed for %s: %s", acct.email, type(exc).__name__)
        elif failure.kind == "quota":
            rt.quota.block(acct_id, reset, label=acct.email, reason="429 from upstream")

    async def async_post_call_success_deployment_hook(
        self, request_data: dict, response: Any, call_type: Any
    ) -> Any:
        info = request_data.get("model_info") or {}
        acct_id = info.get("gw_account") if isinstance(info, Mapping) else None
        if acct_id:
            rt = get_runtime()
            rt.headroom.observe(acct_id, str(info.get("gw_provider") or ""), upstream_headers(response))
            if rt.quota.has_blocks():
                acct = rt.store.get(acct_id)
                rt.quota.clear(acct_id, label=acct.email if acct else acct_id)
        return None

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """Usage per account and model; LiteLLM calls this from its logging worker once a response (or a
        stream) has completed, with the upstream's usage normalised to the chat shape."""
        params = kwargs.get("litellm_params") or {}
        info = params.get("model_info") or {}
        acct_id = info.get("gw_account") if isinstance(info, Mapping) else None
        if not acct_id:
            return
        rt = get_runtime()
        acct = rt.store.get(acct_id)
        email = acct.email if acct else ""
        model = _model_group(params) or str(kwargs.get("model") or "")
        tokens = tokens_from(response_obj)
        provider = acct.provider if acct else str(info.get("gw_provider") or "")
        # LiteLLM keeps the upstream's raw response head here on every route (the Anthropic Messages
        # stream included, where the success hook above sees no headers)
        rt.headroom.observe(acct_id, provider, kwargs.get("response_headers") or upstream_headers(response_obj))
        rt.usage.record_success(acct_id, email, provider, model, tokens,
                                counted=drain.was_stopped(kwargs.get("litellm_call_id")))
        request_log.note_usage(kwargs.get("litellm_call_id"), email, model, tokens)


def _response_status(exc: Exception) -> int | None:
    """The status the upstream answered with: LiteLLM maps some (413, 422) onto its 400 class and
    builds a response of its own for it, so the HTTP client's original error down the chain tells."""
    found = None
    link: BaseException | None = exc
    for _ in range(8):
        if link is None:
            break
        status = getattr(getattr(link, "response", None), "status_code", None)
        if isinstance(status, int) and 400 <= status < 600:
            found = status
        link = link.__cause__ or link.__context__
    return found


# Keys LiteLLM's proxy adds to the parsed body before the pre-call hook; the rest is the client's JSON.
# (`litellm_*`, the request record, and what `litellm_settings` / `general_settings` put there: drop_params,
# forwarded client headers, provider headers). The exact bytes are known only to the front layer.
_LITELLM_ADDED = frozenset({"proxy_server_request", "secret_fields", "user_api_key_dict", "model_info", "drop_params",
                            "headers", "provider_specific_header"})


def _client_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy({k: v for k, v in data.items() if k not in _LITELLM_ADDED and not k.startswith("litellm_")})


def _dialect(call_type: Any) -> client_request.Dialect:
    kind = _call_type(call_type)
    if "anthropic_messages" in kind:
        return "anthropic"
    if "responses" in kind:
        return "responses"
    return "chat"


def _lower(headers: Any) -> dict[str, str]:
    if not isinstance(headers, Mapping):
        return {}
    return {str(k).lower(): str(v) for k, v in headers.items()}


def upstream_headers(response: Any) -> Mapping[str, Any] | None:
    """The upstream's response headers as LiteLLM keeps them on what it returns (streams included:
    the head arrives before the first event, so a stream object already carries them)."""
    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, Mapping):
        for key in ("additional_headers", "headers"):
            value = hidden.get(key)
            if isinstance(value, Mapping) and value:
                return value
    raw = getattr(response, "_raw_response_headers", None) or getattr(response, "_response_headers", None)
    return raw if isinstance(raw, Mapping) else None


def _model_group(params: Mapping[str, Any]) -> str:
    """The public model name the client asked for (the router's model group)."""
    for key in ("metadata", "litellm_metadata"):
        meta = params.get(key)
        if isinstance(meta, Mapping) and meta.get("model_group"):
            return str(meta["model_group"])
    return request_context.current().model


_hook: GatewayHook | None = None


def __getattr__(name: str) -> GatewayHook:
    """`gateway.hook.proxy_hook`, the callback config/litellm.yaml names.

    Resolving it is the moment LiteLLM's proxy starts the gateway (`litellm --config`): start-up
    (gateway/startup.py) runs then, not when this module is imported.
    """
    global _hook
    if name != "proxy_hook":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _hook is None:
        from gateway import startup

        startup.ensure_started()
        _hook = GatewayHook()
    return _hook
