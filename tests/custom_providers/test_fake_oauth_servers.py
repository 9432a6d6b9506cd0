"""The fake OAuth servers are as strict as the real ones; checked in-process, raw HTTP."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fakes.claude_oauth import CLAUDE_CLIENT_ID, ClaudeOAuthFake
from tests.fakes.oauth_checks import s256
from tests.fakes.openai_oauth import CODEX_CLIENT_ID, REUSED_MESSAGE, OpenAIOAuthFake
from tests.fakes.tokens import TokenBook

CLAUDE_REDIRECT = "http://localhost:54545/callback"
OPENAI_REDIRECT = "http://localhost:1455/auth/callback"


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://fake")


def _claude_authorize(**override) -> dict:
    query = {"code": "true", "client_id": CLAUDE_CLIENT_ID, "response_type": "code",
             "redirect_uri": CLAUDE_REDIRECT, "scope": "user:inference", "code_challenge": s256("v"),
             "code_challenge_method": "S256", "state": "st"}
    query.update(override)
    return {k: v for k, v in query.items() if v is not None}


async def test_claude_authorize_redirects_with_code_and_state() -> None:
    fake = ClaudeOAuthFake(TokenBook())
    async with _client(fake.app) as c:
        r = await c.get("/oauth/authorize", params=_claude_authorize())
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CLAUDE_REDIRECT
    assert parse_qs(location.query) == {"code": [fake.last_code.code], "state": ["st"]}


@pytest.mark.parametrize("override", [{"code": None}, {"redirect_uri": "http://127.0.0.1:54545/callback"},
                                      {"code_challenge_method": "plain"}, {"state": None}, {"scope": ""},
                                      {"client_id": "other"}])
async def test_claude_authorize_refuses_bad_requests(override) -> None:
    async with _client(ClaudeOAuthFake(TokenBook()).app) as c:
        assert (await c.get("/oauth/authorize", params=_claude_authorize(**override))).status_code == 400


async def test_claude_token_endpoint_rules() -> None:
    book = TokenBook()
    fake = ClaudeOAuthFake(book, expires_in=100)
    code = fake.issue_code(s256("v"), "st")
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": CLAUDE_REDIRECT,
                "client_id": CLAUDE_CLIENT_ID, "code_verifier": "v", "state": "st"}
    async with _client(fake.app) as c:
        assert (await c.post("/v1/oauth/token", data=exchange)).status_code == 400  # form: refused
        code = fake.issue_code(s256("v"), "st")
        assert (await c.post("/v1/oauth/token", json={**exchange, "code": code, "state": None})).status_code == 400
        code = fake.issue_code(s256("v"), "st")
        r = await c.post("/v1/oauth/token", json={**exchange, "code": code})
        assert r.status_code == 200
        tokens = r.json()
        assert tokens["access_token"].startswith("sk-ant-oat01-") and tokens["expires_in"] == 100
        assert tokens["account"]["email_address"] == "alice@example.com"
        assert (await c.post("/v1/oauth/token", json={**exchange, "code": code})).status_code == 400  # single use

        refresh = {"grant_type": "refresh_token", "client_id": CLAUDE_CLIENT_ID,
                   "refresh_token": tokens["refresh_token"]}
        assert (await c.post("/v1/oauth/token", json=refresh)).status_code == 200
        reused = await c.post("/v1/oauth/token", json=refresh)
        assert reused.status_code == 400
        assert reused.json() == {"error": "invalid_grant",
                                 "error_description": "Refresh token has already been used (refresh_token_reused)"}
        assert book.reuse_count == 1

        fake.recorder.script({"status": 429, "retry_after": 2})
        limited = await c.post("/v1/oauth/token", json=refresh)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"

        profile = await c.get("/api/oauth/profile", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert profile.status_code == 401  # that access token was rotated away
        assert (await c.get("/api/oauth/profile")).status_code == 401


async def test_claude_profile_names_the_account() -> None:
    book = TokenBook()
    fake = ClaudeOAuthFake(book)
    grant = book.issue("hal@example.com", fake.account_uuid("hal@example.com"))
    async with _client(fake.app) as c:
        r = await c.get("/api/oauth/profile", headers={"Authorization": f"Bearer {grant.access_token}"})
    assert r.json()["account"]["email"] == "hal@example.com"
    assert r.json()["organization"]["uuid"] == fake.organization_uuid("hal@example.com")


def _openai_authorize(**override) -> dict:
    query = {"client_id": CODEX_CLIENT_ID, "response_type": "code", "redirect_uri": OPENAI_REDIRECT,
             "scope": "openid email profile offline_access", "state": "st", "code_challenge": s256("v"),
             "code_challenge_method": "S256", "prompt": "login", "id_token_add_organizations": "true",
             "codex_cli_simplified_flow": "true"}
    query.update(override)
    return {k: v for k, v in query.items() if v is not None}


@pytest.mark.parametrize("override", [{"prompt": None}, {"id_token_add_organizations": None},
                                      {"codex_cli_simplified_flow": None}, {"code_challenge": None},
                                      {"redirect_uri": "http://localhost:1455/callback"}])
async def test_openai_authorize_wants_the_codex_extras(override) -> None:
    async with _client(OpenAIOAuthFake(TokenBook()).app) as c:
        assert (await c.get("/oauth/authorize", params=_openai_authorize(**override))).status_code == 400
        assert (await c.get("/oauth/authorize", params=_openai_authorize())).status_code == 302


async def test_openai_token_endpoint_rules_and_id_token() -> None:
    book = TokenBook()
    fake = OpenAIOAuthFake(book, plan_type="team")
    fake.account_ids["bob@example.com"] = "acc-fixed"
    code = fake.issue_code(s256("v"))
    exchange = {"grant_type": "authorization_code", "client_id": CODEX_CLIENT_ID, "code": code,
                "redirect_uri": OPENAI_REDIRECT, "code_verifier": "v"}
    async with _client(fake.app) as c:
        assert (await c.post("/oauth/token", json=exchange)).status_code == 400  # JSON: refused
        assert (await c.post("/oauth/token", data={**exchange, "code_verifier": "nope"})).status_code == 400
        code = fake.issue_code(s256("v"))
        r = await c.post("/oauth/token", data={**exchange, "code": code})
        assert r.status_code == 200
        tokens = r.json()
        assert set(tokens) == {"access_token", "refresh_token", "id_token", "token_type", "expires_in"}
        _header, payload, _signature = tokens["id_token"].split(".")
        claims = _decode(payload)
        assert claims["email"] == "bob@example.com"
        assert claims["https://api.openai.com/auth"]["chatgpt_account_id"] == "acc-fixed"
        assert claims["https://api.openai.com/auth"]["chatgpt_plan_type"] == "team"
        assert book.check(tokens["access_token"])[1].account_id == "acc-fixed"

        refresh = {"grant_type": "refresh_token", "client_id": CODEX_CLIENT_ID,
                   "refresh_token": tokens["refresh_token"], "scope": "openid profile email"}
        assert (await c.post("/oauth/token", data={**refresh, "scope": "openid"})).status_code == 400
        assert (await c.post("/oauth/token", data=refresh)).status_code == 200
        reused = await c.post("/oauth/token", data=refresh)
        assert reused.status_code == 400
        assert reused.json() == {"error": {"message": REUSED_MESSAGE, "type": "invalid_request_error",
                                           "param": None, "code": "refresh_token_reused"}}


async def test_openai_device_flow_pending_then_approved() -> None:
    fake = OpenAIOAuthFake(TokenBook())
    async with _client(fake.app) as c:
        start = (await c.post("/api/accounts/deviceauth/usercode", json={"client_id": CODEX_CLIENT_ID})).json()
        assert start["interval"] == "1" and start["device_auth_id"] and start["user_code"]
        poll = {"device_auth_id": start["device_auth_id"], "user_code": start["user_code"]}
        assert (await c.post("/api/accounts/deviceauth/token", json=poll)).status_code == 403
        fake.approve_device(start["user_code"], "ivy@example.com")
        grant = (await c.post("/api/accounts/deviceauth/token", json=poll)).json()
        assert s256(grant["code_verifier"]) == grant["code_challenge"]
        exchange = {"grant_type": "authorization_code", "client_id": CODEX_CLIENT_ID,
                    "code": grant["authorization_code"], "code_verifier": grant["code_verifier"]}
        assert (await c.post("/oauth/token", data={**exchange, "redirect_uri": OPENAI_REDIRECT})).status_code == 400
        grant = (await c.post("/api/accounts/deviceauth/token", json=poll)).json()
        r = await c.post("/oauth/token", data={**exchange, "code": grant["authorization_code"],
                                               "redirect_uri": "https://auth.openai.com/deviceauth/callback"})
        assert r.status_code == 400  # the first, wrong-redirect attempt spent the code
        fake2 = OpenAIOAuthFake(TokenBook(), device_auto_approve_after=2)
    async with _client(fake2.app) as c:
        start = (await c.post("/api/accounts/deviceauth/usercode", json={"client_id": CODEX_CLIENT_ID})).json()
        poll = {"device_auth_id": start["device_auth_id"], "user_code": start["user_code"]}
        assert (await c.post("/api/accounts/deviceauth/token", json=poll)).status_code == 403
        grant = (await c.post("/api/accounts/deviceauth/token", json=poll)).json()
        r = await c.post("/oauth/token", data={
            "grant_type": "authorization_code", "client_id": CODEX_CLIENT_ID, "code": grant["authorization_code"],
            "code_verifier": grant["code_verifier"], "redirect_uri": "https://auth.openai.com/deviceauth/callback"})
        assert r.status_code == 200


def _decode(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
