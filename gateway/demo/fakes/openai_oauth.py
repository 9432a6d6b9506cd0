"""A strict stand-in for auth.openai.com: authorize page, token endpoint, device-code login.

Strict where the real service is (docs/architecture.md, "Accounts and tokens"): the authorize page wants
the Codex CLI extras (`prompt=login`, `id_token_add_organizations=true`,
`codex_cli_simplified_flow=true`) and S256; the token endpoint takes form bodies only, checks PKCE,
client_id and redirect_uri, spends each code once and rotates single-use refresh tokens through the
shared TokenBook. Tokens come with an id_token JWT (unsigned in spirit: any signature) carrying the
email and `https://api.openai.com/auth.chatgpt_account_id`, which is the Grant's `account_id` -- what
the fake Codex backend checks `ChatGPT-Account-Id` against.

Scripted replies (`recorder.script({...})`) apply to /oauth/token only: `{"status": 500}`,
`{"status": 429, "retry_after": 2}`, `{"delay": s}` (then normal), optionally `"body"`/`"headers"`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.demo.fakes.oauth_checks import s256, scripted_response
from gateway.demo.fakes.recorder import Recorded, Recorder
from gateway.demo.fakes.tokens import Grant, RefreshReused, RefreshUnknown, TokenBook

CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
DEVICE_REDIRECT_URI = "https://auth.openai.com/deviceauth/callback"
AUTH_CLAIM = "https://api.openai.com/auth"
REUSED_MESSAGE = ("Your refresh token has already been used to generate a new access token. "
                  "Please try signing in again.")


@dataclass
class IssuedCode:
    code: str
    challenge: str
    redirect_uri: str
    email: str


@dataclass
class DeviceCode:
    device_auth_id: str
    user_code: str
    polls: int = 0
    email: str | None = None  # set once approved
    grant: dict[str, str] | None = None


def openai_error(message: str, code: str | None, status: int = 400,
                 error_type: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": error_type, "param": None, "code": code}},
                        status_code=status)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(payload: dict[str, Any]) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": "fake"}
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()),
                     _b64(secrets.token_bytes(32))])


class OpenAIOAuthFake:
    def __init__(
        self,
        book: TokenBook,
        *,
        client_id: str = CODEX_CLIENT_ID,
        redirect_uri: str = "http://localhost:1455/auth/callback",
        approve_email: str = "bob@example.com",
        plan_type: str = "plus",
        expires_in: float | None = None,
        refresh_scope: str = "openid profile email",
        device_interval: str = "1",
        device_auto_approve_after: int | None = None,
    ) -> None:
        self.book = book
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.approve_email = approve_email
        self.plan_type = plan_type
        self.expires_in = expires_in
        self.refresh_scope = refresh_scope
        self.device_interval = device_interval
        self.device_auto_approve_after = device_auto_approve_after  # approve at the Nth poll (1 = first)
        self.account_ids: dict[str, str] = {}  # email -> chatgpt_account_id; defaults derived from the email
        self.codes: dict[str, IssuedCode] = {}
        self.last_code: IssuedCode | None = None
        self.last_state: str | None = None
        self.devices: dict[str, DeviceCode] = {}  # by user_code
        self.recorder = Recorder()
        self.app = Starlette(routes=[
            Route("/oauth/authorize", self._authorize, methods=["GET"]),
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/api/accounts/deviceauth/usercode", self._device_usercode, methods=["POST"]),
            Route("/api/accounts/deviceauth/token", self._device_token, methods=["POST"]),
        ])

    # --- helpers for tests -------------------------------------------------------------------

    def account_id_for(self, email: str) -> str:
        return self.account_ids.get(email) or str(uuid.uuid5(uuid.NAMESPACE_DNS, f"chatgpt.{email}"))

    def issue_code(self, challenge: str, *, redirect_uri: str | None = None, email: str | None = None) -> str:
        issued = IssuedCode(f"ac_{secrets.token_urlsafe(24)}", challenge, redirect_uri or self.redirect_uri,
                            email or self.approve_email)
        self.codes[issued.code] = issued
        self.last_code = issued
        return issued.code

    def approve_device(self, user_code: str, email: str | None = None) -> None:
        """The user typed the code at auth.openai.com/codex/device and approved the login."""
        device = self.devices[user_code]
        device.email = email or self.approve_email
        verifier = _b64(secrets.token_bytes(64))
        challenge = s256(verifier)
        code = self.issue_code(challenge, redirect_uri=DEVICE_REDIRECT_URI, email=device.email)
        device.grant = {"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier}

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        return make_jwt({
            "iss": "https://auth.openai.com",
            "aud": [self.client_id],
            "sub": f"auth0|{grant.account_id[:12]}",
            "iat": now,
            "exp": now + 3600,
            "email": grant.email,
            "email_verified": True,
            AUTH_CLAIM: {
                "chatgpt_account_id": grant.account_id,
                "chatgpt_plan_type": self.plan_type,
                "chatgpt_user_id": f"user-{grant.account_id[:8]}",
                "user_id": f"user-{grant.account_id[:8]}",
                "organizations": [{"id": f"org-{grant.account_id[:8]}", "is_default": True, "role": "owner",
                                   "title": "Personal"}],
            },
        })

    # --- routes --------------------------------------------------------------------------------

    async def _record(self, request: Request, account: str | None = None) -> bytes:
        body = await request.body()
        self.recorder.record(Recorded(request.method, request.url.path, request.url.query,
                                      {k.lower(): v for k, v in request.headers.items()}, body, account))
        return body

    async def _authorize(self, request: Request) -> Response:
        await self._record(request)
        q = request.query_params
        expected = {"client_id": self.client_id, "response_type": "code", "redirect_uri": self.redirect_uri,
                    "code_challenge_method": "S256", "prompt": "login", "id_token_add_organizations": "true",
                    "codex_cli_simplified_flow": "true"}
        problems = [f"{k} must be {v!r}" for k, v in expected.items() if q.get(k) != v]
        problems += [f"{k} is required" for k in ("scope", "state", "code_challenge") if not q.get(k)]
        if q.get("scope") and "openid" not in q["scope"].split():
            problems.append("scope must include openid")
        if problems:
            return PlainTextResponse("Invalid authorize request: " + "; ".join(problems), status_code=400)
        code = self.issue_code(q["code_challenge"], redirect_uri=q["redirect_uri"])
        self.last_state = q["state"]
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}",
                                status_code=302)

    async def _token(self, request: Request) -> Response:
        raw = await self._record(request)
        scripted = self.recorder.next_reply(None)
        if scripted is not None:
            if scripted.get("delay"):
                await asyncio.sleep(float(scripted["delay"]))
            if "status" in scripted:
                default = {"error": {"message": "Internal server error" if scripted["status"] != 429 else
                                     "Rate limit reached", "type": "server_error" if scripted["status"] != 429
                                     else "rate_limit_exceeded", "param": None, "code": None}}
                return scripted_response(scripted, default)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return openai_error("Unsupported content type; expected application/x-www-form-urlencoded",
                                "unsupported_content_type")
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if form.get("client_id") != self.client_id:
            return openai_error("Unknown or invalid client_id.", "invalid_client", 401)
        if form.get("grant_type") == "authorization_code":
            return self._exchange(form)
        if form.get("grant_type") == "refresh_token":
            return self._refresh(form)
        return openai_error(f"Unsupported grant_type: {form.get('grant_type')!r}", "unsupported_grant_type")

    def _exchange(self, form: dict[str, str]) -> Response:
        issued = self.codes.pop(form.get("code", ""), None)
        if issued is None:
            return openai_error("Invalid authorization code.", "invalid_grant", error_type="invalid_grant")
        if form.get("redirect_uri") != issued.redirect_uri:
            return openai_error("redirect_uri does not match the authorization request.", "invalid_grant",
                                error_type="invalid_grant")
        if s256(form.get("code_verifier", "")) != issued.challenge:
            return openai_error("Invalid code_verifier.", "invalid_grant", error_type="invalid_grant")
        grant = self.book.issue(issued.email, self.account_id_for(issued.email), ttl=self.expires_in)
        return JSONResponse(self._token_reply(grant))

    def _refresh(self, form: dict[str, str]) -> Response:
        if set(form.get("scope", "").split()) != set(self.refresh_scope.split()):
            return openai_error(f"scope must be {self.refresh_scope!r} for a refresh", "invalid_scope")
        try:
            grant = self.book.rotate(form.get("refresh_token", ""), ttl=self.expires_in)
        except RefreshReused:
            return openai_error(REUSED_MESSAGE, "refresh_token_reused")
        except RefreshUnknown:
            return openai_error("Could not validate your refresh token. Please try signing in again.",
                                "refresh_token_invalidated", error_type="invalid_grant")
        return JSONResponse(self._token_reply(grant))

    def _token_reply(self, grant: Grant) -> dict[str, Any]:
        ttl = self.expires_in if self.expires_in is not None else self.book.access_ttl
        return {"access_token": grant.access_token, "refresh_token": grant.refresh_token,
                "id_token": self.id_token(grant), "token_type": "Bearer", "expires_in": int(ttl)}

    async def _device_usercode(self, request: Request) -> Response:
        raw = await self._record(request)
        try:
            body = json.loads(raw)
        except ValueError:
            return openai_error("Invalid JSON body.", "invalid_json")
        if not isinstance(body, dict) or body.get("client_id") != self.client_id:
            return openai_error("Unknown or invalid client_id.", "invalid_client", 401)
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        user_code = "".join(secrets.choice(letters) for _ in range(4)) + "-" + \
            "".join(secrets.choice(letters) for _ in range(5))
        device = DeviceCode(f"deviceauth_{secrets.token_hex(12)}", user_code)
        self.devices[user_code] = device
        return JSONResponse({"device_auth_id": device.device_auth_id, "user_code": user_code,
                             "interval": self.device_interval})

    async def _device_token(self, request: Request) -> Response:
        raw = await self._record(request)
        try:
            body = json.loads(raw)
        except ValueError:
            return openai_error("Invalid JSON body.", "invalid_json")
        device = self.devices.get(str(body.get("user_code"))) if isinstance(body, dict) else None
        if device is None or body.get("device_auth_id") != device.device_auth_id:
            return openai_error("Unknown device code.", "deviceauth_not_found", 404)
        device.polls += 1
        if device.grant is None and self.device_auto_approve_after and device.polls >= self.device_auto_approve_after:
            self.approve_device(device.user_code)
        if device.grant is None:
            return openai_error("Device authorization is pending.", "deviceauth_authorization_pending", 403)
        return JSONResponse(device.grant)
