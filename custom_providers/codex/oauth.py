"""ChatGPT (Codex) OAuth client: authorize URL, exchange, refresh, device login (docs/architecture.md, "Accounts and tokens").

Returns credential dicts in the reference file shape (B.6: `type:"codex"`, `email`, `access_token`,
`refresh_token`, `id_token`, `account_id`, `expired`, `last_refresh`, plus HEAD's `plan_type`); the
caller persists them. OpenAI's token endpoint takes form bodies (G.1), and the email and ChatGPT
account id come from the id_token, never from the access token (G.4).
"""

from __future__ import annotations

import asyncio
import time
import webbrowser
from typing import Any, Mapping, TextIO
from urllib.parse import urlencode

import httpx

from custom_providers.codex.id_token import parse_id_token
from custom_providers.codex.settings import CodexSettings
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

TOKEN_HEADERS = {"Accept": "application/json"}  # httpx sets the form Content-Type from `data=`
DEVICE_LOGIN_TIMEOUT_SECONDS = 15 * 60.0
DEFAULT_DEVICE_INTERVAL_SECONDS = 5.0
HTTP_TIMEOUT_SECONDS = 30.0


def redirect_uri(settings: CodexSettings) -> str:
    return loopback_redirect_uri(settings.redirect_uri, settings.callback_port)


def authorize_url(settings: CodexSettings, pkce: PKCEPair, state: str) -> str:
    query = {
        "client_id": settings.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri(settings),
        "scope": settings.scope,
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "prompt": "login",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
    }
    return f"{settings.authorize_url}?{urlencode(query)}"


async def exchange_code(
    http: httpx.AsyncClient,
    settings: CodexSettings,
    code: str,
    verifier: str,
    *,
    redirect_uri_override: str | None = None,
) -> dict[str, Any]:
    """Trade an authorization code for tokens (form body). The device flow passes its own redirect URI."""
    form = {
        "grant_type": "authorization_code",
        "client_id": settings.client_id,
        "code": code,
        "redirect_uri": redirect_uri_override or redirect_uri(settings),
        "code_verifier": verifier,
    }
    try:
        response = await http.post(settings.token_url, data=form, headers=TOKEN_HEADERS)
    except httpx.TransportError as exc:
        raise LoginError(f"ChatGPT token exchange failed: network error ({type(exc).__name__})") from None
    credential = _credential(token_reply(response, "ChatGPT token exchange"), previous=None)
    if not credential.get("email"):
        raise LoginError("ChatGPT login failed: the id_token carries no email")
    return credential


async def refresh(
    http: httpx.AsyncClient,
    settings: CodexSettings,
    refresh_token: str,
    *,
    current: Mapping[str, Any] | None = None,
    retry_delays: tuple[float, ...] = RETRY_DELAYS,
) -> dict[str, Any]:
    """Spend a (single-use, rotating) refresh token; return the new credential fields.

    Raises RefreshTokenRejected (refresh_token_reused / invalid_grant: log in again), RefreshRateLimited
    or RefreshFailed. Unknown fields are omitted, so the result merges over the stored file.
    """
    form = {
        "client_id": settings.client_id,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "scope": settings.refresh_scope,
    }
    reply = await refresh_with_retries(
        lambda: http.post(settings.token_url, data=form, headers=TOKEN_HEADERS),
        provider="ChatGPT",
        delays=retry_delays,
    )
    if not reply.get("refresh_token"):
        reply = {**reply, "refresh_token": refresh_token}
    return _credential(reply, previous=current)


def _credential(reply: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    id_token = str(reply.get("id_token") or "")
    claims = parse_id_token(id_token)
    previous = previous or {}
    known = {
        "email": claims.email or previous.get("email"),
        "id_token": id_token,
        "account_id": claims.account_id or previous.get("account_id"),
        "plan_type": claims.plan_type or previous.get("plan_type"),
    }
    return {
        "type": "codex",
        "access_token": reply["access_token"],
        "refresh_token": reply.get("refresh_token") or "",
        "expired": expiry_from(reply.get("expires_in")),
        "last_refresh": rfc3339(),
        **{k: v for k, v in known.items() if v},
    }


def _interval(value: object) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_DEVICE_INTERVAL_SECONDS
    return seconds if seconds > 0 else DEFAULT_DEVICE_INTERVAL_SECONDS


async def device_login(
    http: httpx.AsyncClient,
    settings: CodexSettings,
    *,
    out: Output = print,
    no_browser: bool = False,
    open_browser: BrowserOpener | None = None,
    timeout: float = DEVICE_LOGIN_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """HEAD's device-code login (B.7): show a code, poll until the user approves it, then exchange."""
    try:
        response = await http.post(settings.device_usercode_url, json={"client_id": settings.client_id},
                                   headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise LoginError(f"ChatGPT device login failed: network error ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise LoginError(f"ChatGPT device login could not start: {error_summary(response)}")
    start = response.json()
    device_auth_id = start.get("device_auth_id")
    user_code = start.get("user_code") or start.get("usercode")
    if not device_auth_id or not user_code:
        raise LoginError("ChatGPT device login could not start: the reply has no device code")
    interval = _interval(start.get("interval"))

    out(f"To log in to ChatGPT, open\n\n    {settings.device_verification_url}\n\n"
        f"and enter the code  {user_code}\n(the code is valid for {int(timeout) // 60} minutes)")
    if not no_browser:
        try:
            (open_browser or webbrowser.open)(settings.device_verification_url)
        except Exception:  # the printed URL is enough
            pass

    deadline = time.monotonic() + timeout
    poll = {"device_auth_id": device_auth_id, "user_code": user_code}
    while True:
        try:
            response = await http.post(settings.device_token_url, json=poll, headers={"Accept": "application/json"})
            status = response.status_code
        except httpx.TransportError:
            status = 0  # a blip: keep polling until the deadline
        if status == 200:
            break
        if status not in (0, 403, 404) and status < 500:
            raise LoginError(f"ChatGPT device login failed: {error_summary(response)}")
        if time.monotonic() + interval > deadline:
            raise LoginError(f"ChatGPT device login timed out after {int(timeout) // 60} minutes "
                             f"without the code being approved")
        await asyncio.sleep(interval)

    grant = response.json()
    code, verifier = grant.get("authorization_code"), grant.get("code_verifier")
    if not code or not verifier:
        raise LoginError("ChatGPT device login failed: the approval carries no authorization code")
    return await exchange_code(http, settings, code, verifier, redirect_uri_override=settings.device_redirect_uri)


async def login(
    settings: CodexSettings,
    *,
    no_browser: bool = False,
    paste: bool = False,
    device: bool = False,
    http: httpx.AsyncClient | None = None,
    out: Output = print,
    input_stream: TextIO | None = None,
    timeout: float | None = None,
    open_browser: BrowserOpener | None = None,
) -> dict[str, Any]:
    """The whole interactive login; returns the credential dict (the caller saves it).

    `timeout` defaults to 5 min for the browser flow and 15 min for the device flow.
    """
    client = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)
    try:
        if device:
            credential = await device_login(client, settings, out=out, no_browser=no_browser,
                                            open_browser=open_browser,
                                            timeout=timeout or DEVICE_LOGIN_TIMEOUT_SECONDS)
        else:
            pkce, state = pkce_pair(), new_state()
            code = await obtain_authorization_code(
                authorize_url(settings, pkce, state),
                state=state,
                redirect_uri=redirect_uri(settings),
                port=settings.callback_port,
                provider="ChatGPT",
                no_browser=no_browser,
                paste=paste,
                out=out,
                input_stream=input_stream,
                timeout=timeout or LOGIN_TIMEOUT_SECONDS,
                open_browser=open_browser,
            )
            credential = await exchange_code(client, settings, code.code, pkce.verifier)
    finally:
        if http is None:
            await client.aclose()
    plan = f" ({credential['plan_type']})" if credential.get("plan_type") else ""
    out(f"Logged in to ChatGPT as {credential['email']}{plan}.")
    return credential
