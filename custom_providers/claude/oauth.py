"""Claude Pro/Max OAuth client: authorize URL, code exchange, refresh, email lookup (docs/architecture.md, "Accounts and tokens").

Everything returns a credential dict in the reference system's file shape (A.7: `type`, `email`,
`access_token`, `refresh_token`, `id_token`, `expired`, `last_refresh`, plus HEAD's account and
organization ids). Persisting it is the caller's job (gateway.token_store), as authlib leaves it to
an `update_token` callback. Claude's token endpoint only takes JSON bodies (G.1).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping, TextIO
from urllib.parse import urlencode

import httpx

from custom_providers.claude.settings import ClaudeSettings
from custom_providers.credentials import expiry_from, rfc3339
from custom_providers.oauth_flow import (
    LOGIN_TIMEOUT_SECONDS,
    BrowserOpener,
    Output,
    PKCEPair,
    loopback_redirect_uri,
    new_state,
    obtain_authorization_code,
    pkce_pair,
)
from custom_providers.token_endpoint import RETRY_DELAYS, error_summary, refresh_with_retries, token_reply
from custom_providers.errors import LoginError

log = logging.getLogger(__name__)

# HEAD mimics the official CLI's axios client; the token endpoint sits behind bot protection.
TOKEN_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/plain, */*",
    "User-Agent": "axios/1.15.2",
}
HTTP_TIMEOUT_SECONDS = 30.0


def redirect_uri(settings: ClaudeSettings) -> str:
    return loopback_redirect_uri(settings.redirect_uri, settings.callback_port)


def authorize_url(settings: ClaudeSettings, pkce: PKCEPair, state: str) -> str:
    """The authorize URL; keys sorted as Go's url.Values encodes them, with the page's `code=true` flag."""
    query = {
        "code": "true",
        "client_id": settings.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri(settings),
        "scope": settings.scope,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "state": state,
    }
    return f"{settings.authorize_url}?{urlencode(sorted(query.items()))}"


async def exchange_code(
    http: httpx.AsyncClient, settings: ClaudeSettings, code: str, state: str, verifier: str
) -> dict[str, Any]:
    """Trade an authorization code for tokens. A `code#state` code (the hosted page's copy format) is split."""
    if "#" in code:
        code, _, pasted_state = code.partition("#")
        state = pasted_state or state
    body = {  # HEAD's field order
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(settings),
        "client_id": settings.client_id,
        "code_verifier": verifier,
        "state": state,
    }
    try:
        response = await http.post(settings.token_url, content=json.dumps(body), headers=TOKEN_HEADERS)
    except httpx.TransportError as exc:
        raise LoginError(f"Claude token exchange failed: network error ({type(exc).__name__})") from None
    reply = token_reply(response, "Claude token exchange")
    credential = await _credential(http, settings, reply, previous=None)
    if not credential.get("email"):
        raise LoginError("Claude login failed: missing account information (no email in the token reply or profile)")
    return credential


async def refresh(
    http: httpx.AsyncClient,
    settings: ClaudeSettings,
    refresh_token: str,
    *,
    current: Mapping[str, Any] | None = None,
    retry_delays: tuple[float, ...] = RETRY_DELAYS,
) -> dict[str, Any]:
    """Spend a (single-use, rotating) refresh token; return the new credential fields.

    Raises RefreshTokenRejected (dead token: log in again), RefreshRateLimited (429, with retry_after)
    or RefreshFailed (5xx/network after 3 attempts). `current` is the stored credential: its email and
    ids fill what the reply leaves out. Keys whose value is unknown are omitted, so the caller can merge
    the result over the stored file without erasing anything.
    """
    body = {
        "client_id": settings.client_id,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "scope": settings.scope,
    }
    payload = json.dumps(body)
    reply = await refresh_with_retries(
        lambda: http.post(settings.token_url, content=payload, headers=TOKEN_HEADERS),
        provider="Claude",
        delays=retry_delays,
    )
    if not reply.get("refresh_token"):
        reply = {**reply, "refresh_token": refresh_token}
    return await _credential(http, settings, reply, previous=current)


# The profile's organization_type, as Claude Code stores it (`subscriptionType` in ~/.claude/.credentials.json).
PLANS = {"claude_max": "max", "claude_pro": "pro", "claude_team": "team", "claude_enterprise": "enterprise"}


def plan_of(account: Mapping[str, Any], org: Mapping[str, Any]) -> str:
    """The subscription a profile names: the token reply never carries it, only the profile does."""
    kind = str(org.get("organization_type") or "")
    if kind in PLANS:
        return PLANS[kind]
    if account.get("has_claude_max"):
        return "max"
    if account.get("has_claude_pro"):
        return "pro"
    return ""


async def fetch_profile(http: httpx.AsyncClient, settings: ClaudeSettings, access_token: str) -> dict[str, Any]:
    """Account, organization and plan of a token (HEAD's `/api/oauth/profile`); {} when it cannot be had."""
    try:
        response = await http.get(
            settings.profile_url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json",
                     "anthropic-beta": "oauth-2025-04-20", "User-Agent": settings.user_agent},
        )
    except httpx.TransportError as exc:
        log.warning("Claude profile lookup failed: network error (%s)", type(exc).__name__)
        return {}
    if response.status_code != 200:
        log.warning("Claude profile lookup failed: %s", error_summary(response))
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    account = body.get("account") if isinstance(body, dict) else None
    org = body.get("organization") if isinstance(body, dict) else None
    account = account if isinstance(account, dict) else {}
    org = org if isinstance(org, dict) else {}
    return _drop_empty({
        "email": account.get("email") or account.get("email_address"),
        "account_uuid": account.get("uuid"),
        "organization_uuid": org.get("uuid"),
        "organization_name": org.get("name"),
        "subscription_type": plan_of(account, org),
    })


async def _credential(
    http: httpx.AsyncClient, settings: ClaudeSettings, reply: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    account = reply.get("account") if isinstance(reply.get("account"), dict) else {}
    org = reply.get("organization") if isinstance(reply.get("organization"), dict) else {}
    ids = _drop_empty({
        "email": account.get("email_address") or account.get("email"),
        "account_uuid": account.get("uuid"),
        "organization_uuid": org.get("uuid"),
        "organization_name": org.get("name"),
    })
    if not ids.get("email") and previous and previous.get("email"):
        ids = {**{k: previous[k] for k in ("email", "account_uuid", "organization_uuid", "organization_name")
                  if previous.get(k)}, **ids}
    if not ids.get("email") or not (previous or {}).get("subscription_type"):
        # a fresh login (or an account still without its plan): the plan is only in the profile, and
        # the account list should show it right away, not after some later call
        ids = {**ids, **await fetch_profile(http, settings, str(reply["access_token"]))}
    return {
        "type": "claude",
        **({"email": ids["email"]} if ids.get("email") else {}),
        "access_token": reply["access_token"],
        "refresh_token": reply.get("refresh_token") or "",
        "id_token": "",
        "expired": expiry_from(reply.get("expires_in")),
        "last_refresh": rfc3339(),
        **{k: v for k, v in ids.items() if k != "email"},
    }


def _drop_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v}


async def login(
    settings: ClaudeSettings,
    *,
    no_browser: bool = False,
    paste: bool = False,
    http: httpx.AsyncClient | None = None,
    out: Output = print,
    input_stream: TextIO | None = None,
    timeout: float = LOGIN_TIMEOUT_SECONDS,
    open_browser: BrowserOpener | None = None,
) -> dict[str, Any]:
    """The whole interactive login; returns the credential dict (the caller saves it)."""
    pkce, state = pkce_pair(), new_state()
    code = await obtain_authorization_code(
        authorize_url(settings, pkce, state),
        state=state,
        redirect_uri=redirect_uri(settings),
        port=settings.callback_port,
        provider="Claude",
        no_browser=no_browser,
        paste=paste,
        out=out,
        input_stream=input_stream,
        timeout=timeout,
        open_browser=open_browser,
    )
    client = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)
    try:
        credential = await exchange_code(client, settings, code.code, code.state, pkce.verifier)
    finally:
        if http is None:
            await client.aclose()
    plan = f" ({credential['subscription_type']})" if credential.get("subscription_type") else ""
    out(f"Logged in to Claude as {credential['email']}{plan}.")
    return credential
