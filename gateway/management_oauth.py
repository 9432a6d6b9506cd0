"""OAuth logins started and finished through the management API (docs/architecture.md, "Management API").

A headless server has no browser and no reachable loopback callback, so the operator asks for an
authorize URL, opens it on their own machine, and posts back the redirect URL the browser ended on
(or the `code#state` Claude's hosted page shows). The session (provider, PKCE verifier, status) is
kept by state for SESSION_SECONDS in the shared store (gateway/store/), so the callback may reach
another host or a restarted gateway and still finish the login; with auth-dir files it sits in
`auth-dir/.login-sessions.json` (mode 0600), with Redis in a key that expires. A copy stays in memory
for when the store cannot be reached.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from custom_providers.oauth_flow import new_state, parse_pasted, pkce_pair
from custom_providers.errors import LoginError
from gateway.store import StoreUnavailable

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
        self.sessions: dict[str, LoginSession] = {}  # this process's copies, for a store that is down

    def _purge(self) -> None:
        horizon = time.time() - SESSION_SECONDS
        for state in [s for s, sess in self.sessions.items() if sess.created < horizon]:
            del self.sessions[state]

    async def _save(self, sess: LoginSession) -> None:
        self.sessions[sess.state] = sess
        remaining = SESSION_SECONDS - (time.time() - sess.created)
        try:
            await self.rt.shared.put_session(sess.state, asdict(sess), max(remaining, 1.0))
        except StoreUnavailable:
            pass

    async def _get(self, state: str) -> LoginSession | None:
        self._purge()
        if not state:
            return None
        try:
            data = await self.rt.shared.get_session(state)
        except StoreUnavailable:
            return self.sessions.get(state)
        if data is None:
            return self.sessions.get(state)
        try:
            return LoginSession(**{k: data[k] for k in LoginSession.__dataclass_fields__ if k in data})
        except TypeError:
            return None

    async def start(self, provider: str) -> dict[str, str]:
        self._purge()
        pkce, state = pkce_pair(), new_state()
        url = self.rt.providers[provider].authorize_url(pkce, state)
        await self._save(LoginSession(provider, state, pkce.verifier, time.time()))
        return {"status": "ok", "url": url, "state": state}

    async def status(self, state: str) -> dict[str, str]:
        sess = await self._get(state)
        if sess is None or sess.status == "ok":
            return {"status": "ok"}
        if sess.status == "error":
            return {"status": "error", "error": sess.error}
        return {"status": "wait"}

    async def cancel(self, state: str) -> bool:
        found = self.sessions.pop(state, None) is not None
        try:
            found = await self.rt.shared.delete_session(state) or found
        except StoreUnavailable:
            pass
        return found

    async def finish(self, body: Mapping[str, Any]) -> dict[str, str]:
        """Exchange the pasted code; raises SessionError(status, message) in the reference's cases."""
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
        sess = await self._get(state)
        if sess is None:
            raise SessionError(404, "unknown or expired state")
        if sess.status != "wait":
            raise SessionError(409, "oauth flow is not pending")
        if sess.provider != provider:
            raise SessionError(400, "provider does not match state")
        error = str(body.get("error") or "").strip() or pasted_error
        if error:
            sess.status, sess.error = "error", error
            await self._save(sess)
            raise SessionError(400, error)
        if not code:
            raise SessionError(400, "missing code")
        try:
            credential = await self._exchange(sess, code)
            self.rt.store.save_credential(credential)
        except (LoginError, ValueError, OSError) as exc:
            sess.status, sess.error = "error", str(exc)
            await self._save(sess)
            log.warning("management login for %s failed: %s", provider, exc)
            raise SessionError(400, str(exc)) from None
        sess.status, sess.email = "ok", str(credential.get("email") or "")
        await self._save(sess)
        log.info("management login: %s account %s saved", provider, sess.email)
        return {"status": "ok", "provider": provider, "email": sess.email}

    async def _exchange(self, sess: LoginSession, code: str) -> dict[str, Any]:
        return await self.rt.providers[sess.provider].exchange_code(self.rt.http, code, sess.state, sess.verifier)
