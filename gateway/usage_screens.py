"""The clients' own usage screens, answered from the gateway's usage snapshots (gateway/headroom.py).

A provider names the paths its client reads a usage screen from (`Provider.usage_screen_paths`) and
shapes the body (`Provider.usage_screen`); this layer decides which figures to show. Codex CLI's
`/status`, signed in with ChatGPT, reads `{chatgpt_base_url}/wham/accounts/check` (which workspace its
login routes to: custom_providers/codex/usage_screen.py) and `{chatgpt_base_url}/wham/usage`:

    GET /backend-api/wham/accounts/check   Authorization: Bearer <the CLI's own token>, ChatGPT-Account-Id
    GET /backend-api/wham/usage            the same headers

Which account the answer describes: the one the caller's conversation is pinned to (a session header,
as on its model requests), else the gateway account whose upstream account id the caller sends, else
the provider's whole pool (mean percent used, earliest reset).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from amp.localhost_guard import is_loopback_peer
from custom_providers.usage_reading import Window
from gateway.client_keys import authenticate
from gateway.errors import error_body
from gateway.headroom import WindowNow
from gateway.session import session_id


def _pool_window(windows: list[WindowNow]) -> Window | None:
    if not windows:
        return None
    resets = [w.resets_at for w in windows if w.resets_at]
    return Window(used_percent=sum(w.used_percent for w in windows) / len(windows),
                  resets_at=min(resets) if resets else None, window_minutes=windows[0].window_minutes)


def usage_screen(rt: Any, provider: Any, headers: dict[str, str], now: float | None = None) -> dict[str, Any]:
    """The usage-screen body for this caller (see the module docstring for which account)."""
    now = time.time() if now is None else now
    accounts = rt.usable_accounts(provider.name)
    chosen = None
    session = session_id(headers, {})
    if session:
        bound = rt.selector.bound_account(provider.name, session)
        chosen = next((a for a in accounts if a.id == bound), None)
    claimed = headers.get(provider.account_id_header) if provider.account_id_header else None
    if chosen is None and claimed:
        chosen = next((a for a in accounts if a.account_id == claimed), None)
    picked = [chosen] if chosen is not None else accounts
    per_account = [rt.headroom.windows(a.id, now) for a in picked]
    spent = [rt.quota.is_blocked(a.id) or any(w.used_percent >= 100.0 for w in windows.values())
             for a, windows in zip(picked, per_account)]
    plans = [a.plan for a in picked if a.plan]
    return provider.usage_screen(
        plans[0] if plans else "",
        _pool_window([w["five_hour"] for w in per_account if "five_hour" in w]),
        _pool_window([w["weekly"] for w in per_account if "weekly" in w]),
        limit_reached=bool(picked) and all(spent),
        now=now,
    )


class UsageScreens:
    """Pure ASGI: answers GET on the providers' usage-screen and account-check paths, passes the rest on.

    Who may ask: these paths carry the client's own upstream token (Codex CLI sends its ChatGPT token to
    its `chatgpt_base_url`), never a gateway client key, so a loopback caller is answered without one; any
    other caller needs a client key like every other route (gateway/client_keys.py). The answers hold
    percentages and reset times, never a token or an email."""

    def __init__(self, app: ASGIApp, rt: Any, keys: Callable[[], tuple[str, ...]]) -> None:
        self.app = app
        self.rt = rt
        self.keys = keys

    def _provider_for(self, path: str) -> tuple[Any, str] | None:
        for p in self.rt.providers:
            if path in p.usage_screen_paths:
                return p, "usage"
            if path in p.account_check_paths:
                return p, "accounts"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._provider_for(scope.get("path", "")) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        if not is_loopback_peer(scope):
            reason = authenticate(scope, self.keys())
            if reason is not None:
                body = error_body("openai", 401, reason, error_type="authentication_error", code="invalid_api_key")
                await JSONResponse(body, status_code=401)(scope, receive, send)
                return
        if scope.get("method") not in ("GET", "HEAD"):
            body = error_body("openai", 405, "Only GET is served on this path.")
            await JSONResponse(body, status_code=405, headers={"Allow": "GET"})(scope, receive, send)
            return
        provider, kind = found
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        self.rt.ensure_started()
        self.rt.refresh_accounts()
        if kind == "usage":
            body = usage_screen(self.rt, provider, headers)
        else:
            claimed = headers.get(provider.account_id_header, "") if provider.account_id_header else ""
            plans = [a.plan for a in self.rt.usable_accounts(provider.name) if a.plan]
            body = provider.account_check(claimed.strip(), plans[0] if plans else "")
        await JSONResponse(body, headers={"Cache-Control": "no-store"})(scope, receive, send)
