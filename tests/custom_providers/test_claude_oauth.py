"""Claude login and refresh end to end against the strict fake."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from custom_providers.claude import oauth
from custom_providers.claude.settings import ClaudeSettings
from custom_providers.credentials import parse_rfc3339
from custom_providers.oauth_flow import PKCEPair, s256_challenge
from custom_providers.token_endpoint import RefreshRateLimited
from custom_providers.errors import LoginError, RefreshFailed, RefreshTokenRejected
from tests.custom_providers.conftest import Browser
from tests.servers import free_port

FAST = (0.01, 0.02)


def test_authorize_url_has_the_exact_sorted_query_with_code_true() -> None:
    settings = ClaudeSettings()
    url = oauth.authorize_url(settings, PKCEPair("v", "CHALLENGE"), "0123abcd")
    base, _, query = url.partition("?")
    assert base == "https://claude.ai/oauth/authorize"
    assert parse_qsl(query) == [
        ("client_id", "9d1c250a-e61b-44d9-88ed-5944d1962f5e"),
        ("code", "true"),
        ("code_challenge", "CHALLENGE"),
        ("code_challenge_method", "S256"),
        ("redirect_uri", "http://localhost:54545/callback"),
        ("response_type", "code"),
        ("scope", "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload"),
        ("state", "0123abcd"),
    ]
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A54545%2Fcallback" in query and "scope=user%3Aprofile+user" in query


async def test_browser_login_end_to_end(claude_cfg, claude_fake, claude_book, http, out) -> None:
    browser = Browser()
    cred = await oauth.login(claude_cfg, http=http, out=out, open_browser=browser, timeout=10)
    await browser.settle()

    assert cred["type"] == "claude" and cred["email"] == "alice@example.com" and cred["id_token"] == ""
    assert cred["access_token"].startswith("sk-ant-oat01-") and cred["refresh_token"].startswith("sk-ant-ort01-")
    assert claude_book.check(cred["access_token"])[1].email == "alice@example.com"
    assert cred["account_uuid"] == claude_fake.account_uuid("alice@example.com")
    assert cred["organization_uuid"] == claude_fake.organization_uuid("alice@example.com")
    assert cred["organization_name"] == "Alice's Organization"
    assert abs(parse_rfc3339(cred["expired"]) - (time.time() + 7200)) < 5
    assert abs(parse_rfc3339(cred["last_refresh"]) - time.time()) < 5
    assert browser.pages[-1].status_code == 200 and "Login successful" in browser.pages[-1].text
    assert "Logged in to Claude as alice@example.com (max)." in out.text and cred["access_token"] not in out.text

    (token_call,) = claude_fake.recorder.for_path("/v1/oauth/token")
    assert token_call.headers["content-type"] == "application/json"
    body = token_call.json()
    assert list(body) == ["grant_type", "code", "redirect_uri", "client_id", "code_verifier", "state"]
    assert body["redirect_uri"] == claude_cfg.redirect_uri
    # the token reply names the account but never the plan: the profile is asked once, at login
    assert cred["subscription_type"] == "max"
    (profile_call,) = claude_fake.recorder.for_path("/api/oauth/profile")
    assert profile_call.headers["authorization"] == f"Bearer {cred['access_token']}"


@pytest.mark.parametrize(("organization_type", "plan"), [("claude_pro", "pro"), ("claude_team", "team"),
                                                         ("something_new", "")])
async def test_login_saves_the_plan_the_profile_names(claude_cfg, claude_fake, http, out,
                                                      organization_type, plan) -> None:
    claude_fake.organization_type = organization_type
    cred = await oauth.login(claude_cfg, http=http, out=out, open_browser=Browser(), timeout=10)
    assert cred.get("subscription_type", "") == plan


async def test_refresh_asks_the_profile_only_while_the_plan_is_unknown(claude_cfg, claude_fake, http) -> None:
    first = await _logged_in(claude_cfg, claude_fake, http)
    asked = len(claude_fake.recorder.for_path("/api/oauth/profile"))
    second = await oauth.refresh(http, claude_cfg, first["refresh_token"], current=first)
    assert "subscription_type" not in second  # unknown keys are left out: the stored "max" stays
    assert len(claude_fake.recorder.for_path("/api/oauth/profile")) == asked
    older = {k: v for k, v in second.items() if k != "subscription_type"}  # e.g. a file from before plans
    third = await oauth.refresh(http, claude_cfg, second["refresh_token"], current=older)
    assert third["subscription_type"] == "max"
    assert len(claude_fake.recorder.for_path("/api/oauth/profile")) == asked + 1


@pytest.mark.parametrize("paste_as", ["url", "code#state"])
async def test_paste_login_end_to_end(claude_cfg, claude_fake, http, out, pipe_input, paste_as) -> None:
    browser = Browser(follow=False, paste_into=pipe_input, paste_as=paste_as)
    cred = await oauth.login(claude_cfg, http=http, out=out, open_browser=browser, paste=True,
                             input_stream=pipe_input.reader, timeout=10)
    await browser.settle()
    assert cred["email"] == "alice@example.com"
    assert claude_fake.recorder.for_path("/v1/oauth/token")[0].json()["state"] == claude_fake.last_code.state


async def test_login_gets_the_email_from_the_profile_when_the_token_reply_lacks_it(
        claude_cfg, claude_fake, http, out) -> None:
    claude_fake.include_email_in_token_reply = False
    claude_fake.approve_email = "carol@example.com"
    cred = await oauth.login(claude_cfg, http=http, out=out, open_browser=Browser(), timeout=10)
    assert cred["email"] == "carol@example.com"
    (profile_call,) = claude_fake.recorder.for_path("/api/oauth/profile")
    assert profile_call.headers["authorization"] == f"Bearer {cred['access_token']}"


async def test_exchange_splits_code_hash_state_and_sends_the_pasted_state(claude_cfg, claude_fake, http) -> None:
    code = claude_fake.issue_code(_challenge("verifier-1"), "page-state")
    cred = await oauth.exchange_code(http, claude_cfg, f"{code}#page-state", "stale-state", "verifier-1")
    assert cred["email"] == "alice@example.com"
    sent = claude_fake.recorder.for_path("/v1/oauth/token")[0].json()
    assert (sent["code"], sent["state"]) == (code, "page-state")


async def test_exchange_with_wrong_verifier_or_reused_code_is_a_login_error(claude_cfg, claude_fake, http) -> None:
    code = claude_fake.issue_code(_challenge("right"), "s")
    with pytest.raises(LoginError, match="Invalid code verifier"):
        await oauth.exchange_code(http, claude_cfg, code, "s", "wrong")
    with pytest.raises(LoginError, match="Invalid 'code'"):  # codes are single-use
        await oauth.exchange_code(http, claude_cfg, code, "s", "right")


async def test_refresh_rotates_and_the_old_refresh_token_is_then_rejected(
        claude_cfg, claude_fake, claude_book, http) -> None:
    first = await _logged_in(claude_cfg, claude_fake, http)
    second = await oauth.refresh(http, claude_cfg, first["refresh_token"], current=first)
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert second["email"] == "alice@example.com" and second["type"] == "claude"
    assert claude_book.check(first["access_token"])[1] is None  # the old access token died with it

    call = claude_fake.recorder.for_path("/v1/oauth/token")[-1]
    assert call.headers["content-type"] == "application/json"
    assert call.json() == {"client_id": claude_cfg.client_id, "grant_type": "refresh_token",
                           "refresh_token": first["refresh_token"], "scope": claude_cfg.scope}

    with pytest.raises(RefreshTokenRejected, match="refresh_token_reused"):
        await oauth.refresh(http, claude_cfg, first["refresh_token"], retry_delays=FAST)
    assert claude_book.reuse_count == 1
    assert len(claude_fake.recorder.for_path("/v1/oauth/token")) == 3  # a rejection is never retried


async def test_unknown_refresh_token_is_rejected(claude_cfg, http) -> None:
    with pytest.raises(RefreshTokenRejected):
        await oauth.refresh(http, claude_cfg, "sk-ant-ort01-never-issued", retry_delays=FAST)


async def test_5xx_is_retried_then_succeeds(claude_cfg, claude_fake, http) -> None:
    first = await _logged_in(claude_cfg, claude_fake, http)
    claude_fake.recorder.script({"status": 500}, times=2)
    second = await oauth.refresh(http, claude_cfg, first["refresh_token"], current=first, retry_delays=FAST)
    assert second["refresh_token"] != first["refresh_token"]
    assert len(claude_fake.recorder.for_path("/v1/oauth/token")) == 1 + 3


async def test_5xx_three_times_is_a_refresh_failure_and_the_token_survives(claude_cfg, claude_fake, http) -> None:
    first = await _logged_in(claude_cfg, claude_fake, http)
    claude_fake.recorder.script({"status": 503}, times=3)
    with pytest.raises(RefreshFailed, match="3 attempts") as info:
        await oauth.refresh(http, claude_cfg, first["refresh_token"], retry_delays=FAST)
    assert not isinstance(info.value, RefreshTokenRejected)
    assert (await oauth.refresh(http, claude_cfg, first["refresh_token"], retry_delays=FAST))["access_token"]


async def test_429_is_not_retried_and_says_when_to_come_back(claude_cfg, claude_fake, http) -> None:
    first = await _logged_in(claude_cfg, claude_fake, http)
    claude_fake.recorder.script({"status": 429, "retry_after": 42})
    with pytest.raises(RefreshRateLimited) as info:
        await oauth.refresh(http, claude_cfg, first["refresh_token"], retry_delays=FAST)
    assert info.value.retry_after == 42
    claude_fake.recorder.script({"status": 429, "retry_after": 1})
    with pytest.raises(RefreshRateLimited) as info:
        await oauth.refresh(http, claude_cfg, first["refresh_token"], retry_delays=FAST)
    assert info.value.retry_after == 5  # clamped like the reference
    assert len(claude_fake.recorder.for_path("/v1/oauth/token")) == 3


async def test_network_failure_is_retried_then_a_refresh_failure(claude_cfg, http) -> None:
    dead = ClaudeSettings(token_url=f"http://127.0.0.1:{free_port()}/v1/oauth/token")
    with pytest.raises(RefreshFailed, match="network error"):
        await oauth.refresh(http, dead, "sk-ant-ort01-x", retry_delays=FAST)


async def test_refresh_keeps_the_old_refresh_token_when_the_reply_has_none(claude_cfg, claude_fake, http) -> None:
    first = await _logged_in(claude_cfg, claude_fake, http)
    claude_fake.recorder.script({"status": 200, "body": {"access_token": "sk-ant-oat01-new", "expires_in": 60}})
    cred = await oauth.refresh(http, claude_cfg, first["refresh_token"], current=first, retry_delays=FAST)
    assert cred["refresh_token"] == first["refresh_token"] and cred["access_token"] == "sk-ant-oat01-new"
    assert cred["email"] == "alice@example.com"  # from the stored credential, not lost


async def test_fake_refuses_form_bodies_which_is_why_the_client_sends_json(claude_cfg, http) -> None:
    response = await http.post(claude_cfg.token_url, data={"grant_type": "refresh_token",
                                                           "client_id": claude_cfg.client_id, "refresh_token": "x"})
    assert response.status_code == 400 and "JSON" in response.json()["error_description"]


async def _logged_in(settings, fake, http) -> dict:
    code = fake.issue_code(_challenge("v"), "s", redirect_uri=settings.redirect_uri)
    return await oauth.exchange_code(http, settings, code, "s", "v")


def _challenge(verifier: str) -> str:
    return s256_challenge(verifier)


def test_login_redirect_uri_follows_a_custom_callback_port() -> None:
    settings = ClaudeSettings(callback_port=61234)
    query = dict(parse_qsl(urlsplit(oauth.authorize_url(settings, PKCEPair("v", "c"), "s")).query))
    assert query["redirect_uri"] == "http://localhost:61234/callback"

