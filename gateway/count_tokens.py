"""/v1/messages/count_tokens for providers that count upstream (Claude), with the gateway's own rules.

LiteLLM's count_tokens route does not go through the Router's deployment hooks, so the gateway
answers it itself, but with the same account rules as every other route: the account comes from the
same Selector (priority, session affinity, round-robin / fill-first), a quota-blocked account is
skipped, a 401 refreshes the token and tries that account once more, a 429 blocks the account (when
its reset says) and moves on, and every attempt is recorded in the usage book like a model call.
A client mistake (any other 4xx) is answered at once; 5xx and transport errors move to the next account.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import httpx
from starlette.responses import JSONResponse, Response

from custom_providers.provider import Provider
from gateway.error_rewrite import clean_message
from gateway.errors import error_body, no_accounts_message, seconds_until
from gateway.runtime import Runtime
from gateway.selection import Candidate
from gateway.session import session_id

log = logging.getLogger("subgate.routes")


def _candidates(rt: Runtime, provider: str) -> list[Candidate]:
    return [Candidate({}, a.id, a.path.name, a.priority)
            for a in rt.usable_accounts(provider) if not rt.quota.is_blocked(a.id)]


def _nothing_left(rt: Runtime, handler: Provider) -> Response:
    reset = rt.earliest_reset(handler.name)
    if reset is not None:
        secs = seconds_until(reset)
        msg = f"All {handler.label} accounts are rate limited; the earliest resets in {secs} s."
        return JSONResponse(error_body("anthropic", 429, msg), 429, headers={"Retry-After": str(secs)})
    return JSONResponse(error_body("anthropic", 503, no_accounts_message(handler.name, rt.providers.names())), 503)


async def count_upstream(rt: Runtime, handler: Provider, model: str, body: dict[str, Any],
                         headers: Mapping[str, str]) -> Response:
    provider = handler.name
    session = session_id(headers, body)
    tried: set[str] = set()
    retry_same: set[str] = set()
    last: Response | None = None
    for _ in range(1 + max(1, rt.settings.request_retry)):
        fresh = [c for c in _candidates(rt, provider) if c.account_id not in tried - retry_same]
        chosen = rt.selector.choose(model, fresh, tried=tried - retry_same, session=session, provider=provider)
        acct = rt.store.get(chosen.account_id) if chosen is not None else None
        if acct is None:
            break
        retry_same.discard(acct.id)
        tried.add(acct.id)
        try:
            token = await rt.store.token(acct)
            upstream = await handler.count_tokens(rt.http, body, headers, token=token)
        except httpx.HTTPError as exc:
            log.warning("count_tokens upstream error for %s: %s", acct.email, type(exc).__name__)
            rt.usage.record_failure(acct.id, acct.email, provider, model, None, type(exc).__name__)
            last = JSONResponse(error_body("anthropic", 502, f"The {handler.label} API could not be reached."), 502)
            continue
        except Exception as exc:  # NeedsLogin, RefreshFailed: this account cannot serve now
            last = JSONResponse(error_body("anthropic", 503, str(exc)), 503)
            continue
        answer = Response(upstream.content, upstream.status_code, media_type="application/json")
        if upstream.status_code < 400:
            rt.usage.record_success(acct.id, acct.email, provider, model, None)
            if rt.quota.has_blocks():
                rt.quota.clear(acct.id, label=acct.email)
            return answer
        failure = handler.classify_failure(upstream.status_code, upstream.headers, upstream.text)
        reset = failure.reset_at if failure.kind == "quota" else None
        rt.usage.record_failure(acct.id, acct.email, provider, model, upstream.status_code,
                                clean_message(upstream.text), reset)
        last = answer
        if failure.kind == "auth":
            try:
                await rt.store.refresh(acct, failed_token=token)
                retry_same.add(acct.id)  # a newer token exists: one more try on this account
            except Exception as exc:
                log.warning("token refresh after 401 failed for %s: %s", acct.email, type(exc).__name__)
        elif failure.kind == "quota":
            rt.quota.block(acct.id, reset, label=acct.email, reason="429 from upstream")
        elif upstream.status_code < 500:
            return answer  # the request itself was refused: another account would refuse it too
    if last is None or (not _candidates(rt, provider) and rt.earliest_reset(provider) is not None):
        return _nothing_left(rt, handler)  # none usable, or every one blocked: 429 + Retry-After
    return last
