"""A strict stand-in for Claude's OAuth side: claude.ai's authorize page, the token endpoint, the profile.

Strict where the real service is (docs/architecture.md, "Accounts and tokens"): the authorize page wants
`code=true` and an S256 challenge; the token endpoint takes JSON only, checks client_id, redirect_uri,
state and the PKCE verifier, spends each code once, and rotates single-use refresh tokens through the
shared TokenBook (a reuse answers `refresh_token_reused`). The authorize page "auto-approves": it
redirects to redirect_uri at once, as a logged-in browser that clicks Authorize would.

Scripted replies (`recorder.script({...})`) apply to the token endpoint only and win over normal
handling: `{"status": 500}`, `{"status": 429, "retry_after": 2}`, `{"delay": 0.5}` (then normal),
optionally with a `"body"` (dict or str) and `"headers"`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.demo.fakes.oauth_checks import s256, scripted_response
from gateway.demo.fakes.recorder import Recorded, Recorder
from gateway.demo.fakes.tokens import RefreshReused, RefreshUnknown, TokenBook

CLAUDE_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
REUSED = "Refresh token has already been used (refresh_token_reused)"


@dataclass
class IssuedCode:
    code: str
    challenge: str
    state: str
    redirect_uri: str
    email: str
    scope: str


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class ClaudeOAuthFake:
    def __init__(
        self,
        book: TokenBook,
        *,
        client_id: str = CLAUDE_CLIENT_ID,
        redirect_uri: str = "http://localhost:54545/callback",
        approve_email: str = "alice@example.com",
        expires_in: float | None = None,
        organization_name: str = "Alice's Organization",
        include_email_in_token_reply: bool = True,
        organization_type: str = "claude_max",
    ) -> None:
        self.book = book
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.approve_email = approve_email  # who "logs in" at the authorize page
        self.expires_in = expires_in  # lifetime of issued access tokens; None = the book's default
        self.organization_name = organization_name
        self.include_email_in_token_reply = include_email_in_token_reply
        self.organization_type = organization_type  # the plan; like the real endpoint, only the profile says it
        self.codes: dict[str, IssuedCode] = {}
        self.last_code: IssuedCode | None = None
        self.recorder = Recorder()
        self.app = Starlette(routes=[
            Route("/oauth/authorize", self._authorize, methods=["GET"]),
            Route("/v1/oauth/token", self._token, methods=["POST"]),
            Route("/api/oauth/profile", self._profile, methods=["GET"]),
        ])

    # --- helpers for tests -------------------------------------------------------------------

    @staticmethod
    def account_uuid(email: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"account.{email}"))

    @staticmethod
    def organization_uuid(email: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"org.{email}"))

    def issue_code(self, challenge: str, state: str, *, redirect_uri: str | None = None,
                   email: str | None = None, scope: str = "user:inference") -> str:
        """Approve a login without the browser round trip; returns the code."""
        issued = IssuedCode(secrets.token_urlsafe(24), challenge, state, redirect_uri or self.redirect_uri,
                            email or self.approve_email, scope)
        self.codes[issued.code] = issued
        self.last_code = issued
        return issued.code

    def manual_code(self) -> str:
        """What the hosted page shows for copying: `<code>#<state>` of the last approval."""
        assert self.last_code is not None
        return f"{self.last_code.code}#{self.last_code.state}"

    # --- routes --------------------------------------------------------------------------------

    async def _record(self, request: Request, account: str | None = None) -> bytes:
        body = await request.body()
        self.recorder.record(Recorded(request.method, request.url.path, request.url.query,
                                      {k.lower(): v for k, v in request.headers.items()}, body, account))
        return body

    async def _authorize(self, request: Request) -> Response:
        await self._record(request)
        q = request.query_params
        problems = []
        if q.get("code") != "true":
            problems.append("code=true is required")
        if q.get("client_id") != self.client_id:
            problems.append("unknown client_id")
        if q.get("response_type") != "code":
            problems.append("response_type must be code")
        if q.get("redirect_uri") != self.redirect_uri:
            problems.append("redirect_uri does not match the client's registration")
        if not q.get("scope"):
            problems.append("scope is required")
        if not q.get("code_challenge"):
            problems.append("code_challenge is required")
        if q.get("code_challenge_method") != "S256":
            problems.append("code_challenge_method must be S256")
        if not q.get("state"):
            problems.append("state is required")
        if problems:  # the real page shows an error instead of redirecting
            return PlainTextResponse("Invalid OAuth request: " + "; ".join(problems), status_code=400)
        code = self.issue_code(q["code_challenge"], q["state"], redirect_uri=q["redirect_uri"], scope=q["scope"])
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}",
                                status_code=302)

    async def _token(self, request: Request) -> Response:
        raw = await self._record(request)
        scripted = self.recorder.next_reply(None)
        if scripted is not None:
            if scripted.get("delay"):
                await asyncio.sleep(float(scripted["delay"]))
            if "status" in scripted:
                default = ({"error": "rate_limit_error", "error_description": "Rate limited"}
                           if scripted["status"] == 429 else
                           {"error": "server_error", "error_description": "Internal server error"})
                return scripted_response(scripted, default)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _oauth_error("invalid_request", "Request body must be JSON (Content-Type: application/json)")
        try:
            body = json.loads(raw)
        except ValueError:
            return _oauth_error("invalid_request", "Invalid JSON body")
        if not isinstance(body, dict):
            return _oauth_error("invalid_request", "Invalid JSON body")
        if body.get("client_id") != self.client_id:
            return _oauth_error("invalid_client", "Client authentication failed", 401)
        grant_type = body.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(body)
        if grant_type == "refresh_token":
            return self._refresh(body)
        return _oauth_error("unsupported_grant_type", f"Unsupported grant_type: {grant_type!r}")

    def _exchange(self, body: dict[str, Any]) -> Response:
        issued = self.codes.pop(str(body.get("code")), None)  # single use, even when the rest is wrong
        if issued is None:
            return _oauth_error("invalid_grant", "Invalid 'code' in request.")
        if body.get("redirect_uri") != issued.redirect_uri:
            return _oauth_error("invalid_grant", "Invalid 'redirect_uri' in request.")
        if not body.get("state"):
            return _oauth_error("invalid_request", "Missing 'state' in request.")
        if body["state"] != issued.state:
            return _oauth_error("invalid_grant", "Invalid 'state' in request.")
        verifier = body.get("code_verifier")
        if not isinstance(verifier, str) or s256(verifier) != issued.challenge:
            return _oauth_error("invalid_grant", "Invalid code verifier")
        grant = self.book.issue(issued.email, self.account_uuid(issued.email), ttl=self.expires_in)
        return JSONResponse(self._token_reply(grant, issued.scope))

    def _refresh(self, body: dict[str, Any]) -> Response:
        try:
            grant = self.book.rotate(str(body.get("refresh_token")), ttl=self.expires_in)
        except RefreshReused:
            return _oauth_error("invalid_grant", REUSED)
        except RefreshUnknown:
            return _oauth_error("invalid_grant", "Invalid refresh token")
        return JSONResponse(self._token_reply(grant, str(body.get("scope") or "user:inference")))

    def _token_reply(self, grant: Any, scope: str) -> dict[str, Any]:
        ttl = self.expires_in if self.expires_in is not None else self.book.access_ttl
        account: dict[str, Any] = {"uuid": grant.account_id}
        if self.include_email_in_token_reply:
            account["email_address"] = grant.email
        return {
            "token_type": "Bearer",
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expires_in": int(ttl),
            "scope": scope,
            "organization": {"uuid": self.organization_uuid(grant.email), "name": self.organization_name},
            "account": account,
        }

    async def _profile(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        status, grant = self.book.check(token)
        await self._record(request, grant.email if grant else None)
        if grant is None or status.value != "valid":
            message = "OAuth token has expired." if grant is not None else "Invalid bearer token"
            return JSONResponse({"type": "error", "error": {"type": "authentication_error", "message": message}},
                                status_code=401)
        return JSONResponse({
            "account": {"uuid": grant.account_id, "email": grant.email, "full_name": "Test User",
                        "display_name": "Test", "has_claude_max": self.organization_type == "claude_max",
                        "has_claude_pro": self.organization_type == "claude_pro"},
            "organization": {"uuid": self.organization_uuid(grant.email), "name": self.organization_name,
                             "organization_type": self.organization_type, "billing_type": "stripe_subscription"},
        })
