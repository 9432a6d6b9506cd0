"""ChatGPT (Codex) login, device login and refresh end to end against the strict fake."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, parse_qsl

import pytest

from custom_providers.codex import oauth
from custom_providers.codex.id_token import jwt_expiry, parse_id_token
from custom_providers.codex.settings import CodexSettings
from custom_providers.credentials import parse_rfc3339
from custom_providers.oauth_flow import PKCEPair, s256_challenge
from custom_providers.errors import LoginError, RefreshFailed, RefreshTokenRejected
from tests.custom_providers.conftest import Browser
from tests.fakes.openai_oauth import make_jwt

FAST = (0.01, 0.02)


def test_authorize_url_carries_the_codex_cli_extras() -> None:
    url = oauth.authorize_url(CodexSettings(), PKCEPair("v", "CH"), "st")
    base, _, query = url.partition("?")
    assert base == "https://auth.openai.com/oauth/authorize"
    assert dict(parse_qsl(query)) == {
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        "response_type": "code",
        "redirect_uri": "http://localhost:1455/auth/callback",
        "scope": "openid email profile offline_access",
        "state": "st",
        "code_challenge": "CH",
        "code_challenge_method": "S256",
        "prompt": "login",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
    }


async def test_browser_login_end_to_end(codex_cfg, openai_fake, openai_book, http, out) -> None:
    browser = Browser()
    cred = await oauth.login(codex_cfg, http=http, out=out, open_browser=browser, timeout=10)
    await browser.settle()

    account_id = openai_fake.account_id_for("bob@example.com")
    assert cred["type"] == "codex" and cred["email"] == "bob@example.com"
    assert cred["account_id"] == account_id == openai_book.check(cred["access_token"])[1].account_id
    assert cred["plan_type"] == "pro"
    assert parse_id_token(cred["id_token"]).email == "bob@example.com"
    assert abs(parse_rfc3339(cred["expired"]) - (time.time() + 864000)) < 5
    assert browser.pages[-1].status_code == 200
    assert "bob@example.com (pro)" in out.text and cred["refresh_token"] not in out.text

    (call,) = openai_fake.recorder.for_path("/oauth/token")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
    assert form["grant_type"] == "authorization_code" and form["redirect_uri"] == codex_cfg.redirect_uri
    assert set(form) == {"grant_type", "client_id", "code", "redirect_uri", "code_verifier"}


async def test_paste_login_with_the_full_redirect_url(codex_cfg, openai_fake, http, out, pipe_input) -> None:
    browser = Browser(follow=False, paste_into=pipe_input)
    cred = await oauth.login(codex_cfg, http=http, out=out, open_browser=browser, paste=True,
                             input_stream=pipe_input.reader, timeout=10)
    await browser.settle()
    assert cred["email"] == "bob@example.com"


async def test_device_login_polls_until_approved_then_exchanges(codex_cfg, openai_fake, http, out) -> None:
    opened: list[str] = []
    login = asyncio.create_task(oauth.login(codex_cfg, http=http, out=out, device=True,
                                            open_browser=lambda u: opened.append(u) or True))
    while len(openai_fake.recorder.for_path("/deviceauth/token")) < 2:  # still pending after two polls
        await asyncio.sleep(0.02)
    assert not login.done()
    (user_code,) = openai_fake.devices
    openai_fake.approve_device(user_code, "dana@example.com")
    cred = await login

    assert cred["email"] == "dana@example.com" and cred["account_id"] == openai_fake.account_id_for("dana@example.com")
    assert user_code in out.text and "https://auth.openai.com/codex/device" in out.text
    assert opened == ["https://auth.openai.com/codex/device"]
    assert openai_fake.recorder.for_path("/deviceauth/usercode")[0].json() == {"client_id": codex_cfg.client_id}
    exchange = openai_fake.recorder.for_path("/oauth/token")[-1]
    assert parse_qs(exchange.body.decode())["redirect_uri"] == ["https://auth.openai.com/deviceauth/callback"]


async def test_device_login_honours_a_string_interval(codex_cfg, openai_fake, http, out) -> None:
    openai_fake.device_interval = "1"
    openai_fake.device_auto_approve_after = 2
    started = time.monotonic()
    cred = await oauth.login(codex_cfg, http=http, out=out, device=True, no_browser=True)
    assert cred["email"] == "bob@example.com"
    assert 0.9 < time.monotonic() - started < 3


async def test_device_login_gives_up_at_its_time_limit(codex_cfg, http, out) -> None:
    with pytest.raises(LoginError, match="timed out"):
        await oauth.login(codex_cfg, http=http, out=out, device=True, no_browser=True, timeout=0.3)


async def test_refresh_rotates_and_reuse_is_rejected(codex_cfg, openai_fake, openai_book, http) -> None:
    first = await _logged_in(codex_cfg, openai_fake, http)
    second = await oauth.refresh(http, codex_cfg, first["refresh_token"], current=first)
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert (second["email"], second["account_id"]) == (first["email"], first["account_id"])
    assert second["id_token"] and second["id_token"] != first["id_token"]

    call = openai_fake.recorder.for_path("/oauth/token")[-1]
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(call.body.decode())["scope"] == ["openid profile email"]

    with pytest.raises(RefreshTokenRejected, match="refresh_token_reused"):
        await oauth.refresh(http, codex_cfg, first["refresh_token"], retry_delays=FAST)
    assert openai_book.reuse_count == 1
    assert len(openai_fake.recorder.for_path("/oauth/token")) == 3


async def test_5xx_is_retried_then_succeeds(codex_cfg, openai_fake, http) -> None:
    first = await _logged_in(codex_cfg, openai_fake, http)
    openai_fake.recorder.script({"status": 502}, times=2)
    second = await oauth.refresh(http, codex_cfg, first["refresh_token"], current=first, retry_delays=FAST)
    assert second["refresh_token"] != first["refresh_token"]
    assert len(openai_fake.recorder.for_path("/oauth/token")) == 1 + 3


async def test_5xx_every_time_is_a_refresh_failure(codex_cfg, openai_fake, http) -> None:
    first = await _logged_in(codex_cfg, openai_fake, http)
    openai_fake.recorder.script({"status": 500}, times=3)
    with pytest.raises(RefreshFailed) as info:
        await oauth.refresh(http, codex_cfg, first["refresh_token"], retry_delays=FAST)
    assert not isinstance(info.value, RefreshTokenRejected)


async def test_fake_refuses_json_bodies_which_is_why_the_client_sends_a_form(codex_cfg, http) -> None:
    response = await http.post(codex_cfg.token_url, json={"grant_type": "refresh_token",
                                                          "client_id": codex_cfg.client_id, "refresh_token": "x"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "unsupported_content_type"


def test_id_token_claims_and_access_token_expiry() -> None:
    token = make_jwt({"email": "e@x.io", "exp": 1893456000, "https://api.openai.com/auth": {
        "chatgpt_account_id": "acc-1", "chatgpt_plan_type": "team", "chatgpt_user_id": "user-1"}})
    claims = parse_id_token(token)
    assert (claims.email, claims.account_id, claims.plan_type, claims.user_id) == ("e@x.io", "acc-1", "team", "user-1")
    assert jwt_expiry(token) == 1893456000
    assert parse_id_token("not-a-jwt").email == "" and jwt_expiry("opaque") is None


async def _logged_in(settings, fake, http) -> dict:
    code = fake.issue_code(s256_challenge("v"), redirect_uri=settings.redirect_uri)
    return await oauth.exchange_code(http, settings, code, "v")
