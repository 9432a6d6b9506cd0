"""OAuth logins started and finished through the management API (docs/architecture.md, "Management API").

A headless server has no browser and no reachable loopback callback, so the operator asks for an
authorize URL, opens it on their own machine, and posts back the redirect URL the browser ended on
(or the `code#state` Claude's hosted page shows). The PKCE verifier never leaves this process: it is
kept in memory, by state, for SESSION_SECONDS.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

from custom_providers.oauth_flow import new_state, parse_pasted, pkce_pair
from custom_providers.errors import LoginError

log = logging.getLogger("subgate.management")

SESSION_SECONDS = 15 * 60.0


class SessionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LoginSession:
    provider: str
    state: str
    verifier: str
    created: float
    status: str = "wait"  # wait / ok / error
    error: str = ""
    email: str = ""


class LoginSessions:
    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.sessions: dict[str, LoginSession] = {}

    def _purge(self) -> None:
        horizon = time.monotonic() - SESSION_SECONDS
        for state in [s for s, sess in self.sessions.items() if sess.created < horizon]:
            del self.sessions[state]

    def start(self, provider: str) -> dict[str, str]:
        self._purge()
        pkce, state = pkce_pair(), new_state()
        url = self.rt.providers[provider].authorize_url(pkce, state)
        self.sessions[state] = LoginSession(provider, state, pkce.verifier, time.monotonic())
        return {"status": "ok", "url": url, "state": state}

    def status(self, state: str) -> dict[str, str]:
        sess = self.sessions.get(state)
        if sess is None or sess.status == "ok":
            return {"status": "ok"}
        if sess.status == "error":
            return {"status": "error", "error": sess.error}
        return {"status": "wait"}

    def cancel(self, state: str) -> bool:
        return self.sessions.pop(state, None) is not None

    async def finish(self, body: Mapping[str, Any]) -> dict[str, str]:
        """Exchange the pasted code; raises SessionError(status, message) in the reference's cases."""
        self._purge()
        handler = self.rt.providers.named(str(body.get("provider") or ""))
        if handler is None:
            raise SessionError(400, "unknown provider")
        provider = handler.name
        state = str(body.get("state") or "").strip()
        code = str(body.get("code") or "").strip()
        pasted_error = ""
        redirect = str(body.get("redirect_url") or body.get("redirect-url") or "").strip()
        if redirect:
            try:
                code, url_state = parse_pasted(redirect)
            except LoginError as exc:
                pasted_error, url_state = str(exc), None
            state = state or (url_state or "")
        elif code:
            try:
                code, code_state = parse_pasted(code)
            except LoginError as exc:
                raise SessionError(400, str(exc)) from None
            state = state or (code_state or "")
        if not state:
            raise SessionError(400, "missing state")
        sess = self.sessions.get(state)
        if sess is None:
            raise SessionError(404, "unknown or expired state")
        if sess.status != "wait":
            raise SessionError(409, "oauth flow is not pending")
        if sess.provider != provider:
            raise SessionError(400, "provider does not match state")
        error = str(body.get("error") or "").strip() or pasted_error
        if error:
            sess.status, sess.error = "error", error
            raise SessionError(400, error)
        if not code:
            raise SessionError(400, "missing code")
        try:
            credential = await self._exchange(sess, code)
            self.rt.store.save_credential(credential)
        except (LoginError, ValueError, OSError) as exc:
            sess.status, sess.error = "error", str(exc)
            log.warning("management login for %s failed: %s", provider, exc)
            raise SessionError(400, str(exc)) from None
        sess.status, sess.email = "ok", str(credential.get("email") or "")
        log.info("management login: %s account %s saved", provider, sess.email)
        return {"status": "ok", "provider": provider, "email": sess.email}

    async def _exchange(self, sess: LoginSession, code: str) -> dict[str, Any]:
        return await self.rt.providers[sess.provider].exchange_code(self.rt.http, code, sess.state, sess.verifier)
