"""Reusing an existing Claude Code / Codex CLI login as a gateway credential."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from custom_providers.claude.login_import import import_claude_code_login
from custom_providers.claude.settings import ClaudeSettings
from custom_providers.codex.login_import import import_codex_cli_login
from custom_providers.credentials import parse_rfc3339
from custom_providers.errors import LoginError
from tests.fakes.claude_oauth import ClaudeOAuthFake
from tests.fakes.openai_oauth import make_jwt
from tests.fakes.tokens import TokenBook


def _claude_file(tmp_path, oauth: dict) -> str:
    path = tmp_path / ".credentials.json"
    path.write_text(json.dumps({"claudeAiOauth": oauth}))
    return str(path)


async def test_claude_code_login_with_email_from_the_profile(tmp_path) -> None:
    book = TokenBook()
    fake = ClaudeOAuthFake(book)
    grant = book.issue("erin@example.com", fake.account_uuid("erin@example.com"))
    expires_ms = int((time.time() + 3000) * 1000)
    path = _claude_file(tmp_path, {"accessToken": grant.access_token, "refreshToken": grant.refresh_token,
                                   "expiresAt": expires_ms, "scopes": ["user:inference"],
                                   "subscriptionType": "max"})
    settings = ClaudeSettings(profile_url="http://fake/api/oauth/profile")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(fake.app)) as http:
        cred = await import_claude_code_login(path, settings=settings, http=http)
    assert cred["type"] == "claude" and cred["email"] == "erin@example.com"
    assert (cred["access_token"], cred["refresh_token"]) == (grant.access_token, grant.refresh_token)
    assert abs(parse_rfc3339(cred["expired"]) - expires_ms / 1000) < 1
    assert cred["account_uuid"] == fake.account_uuid("erin@example.com")
    assert cred["subscription_type"] == "max"


async def test_claude_code_login_with_an_explicit_email_needs_no_network(tmp_path) -> None:
    path = _claude_file(tmp_path, {"accessToken": "sk-ant-oat01-a", "refreshToken": "sk-ant-ort01-r",
                                   "expiresAt": 1893456000000})
    cred = await import_claude_code_login(path, email="frank@example.com")
    assert cred["email"] == "frank@example.com" and cred["expired"] == "2030-01-01T00:00:00Z"


async def test_claude_code_login_errors_are_clear(tmp_path) -> None:
    with pytest.raises(LoginError, match="no Claude Code login found"):
        await import_claude_code_login(tmp_path / "missing.json", email="x@y.z")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"something": {}}))
    with pytest.raises(LoginError, match="claudeAiOauth"):
        await import_claude_code_login(wrong, email="x@y.z")
    no_refresh = _claude_file(tmp_path, {"accessToken": "sk-ant-oat01-a"})
    with pytest.raises(LoginError, match="refreshToken"):
        await import_claude_code_login(no_refresh, email="x@y.z")
    ok = _claude_file(tmp_path, {"accessToken": "sk-ant-oat01-a", "refreshToken": "r"})
    with pytest.raises(LoginError, match="email"):
        await import_claude_code_login(ok)


async def test_claude_code_login_with_a_dead_token_asks_for_the_email(tmp_path) -> None:
    fake = ClaudeOAuthFake(TokenBook())
    path = _claude_file(tmp_path, {"accessToken": "sk-ant-oat01-dead", "refreshToken": "r"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(fake.app)) as http:
        with pytest.raises(LoginError, match="pass the email"):
            await import_claude_code_login(path, settings=ClaudeSettings(profile_url="http://fake/api/oauth/profile"),
                                           http=http)


def _codex_file(tmp_path, data: dict) -> str:
    path = tmp_path / "auth.json"
    path.write_text(json.dumps(data))
    return str(path)


def _id_token(email: str = "gina@example.com") -> str:
    return make_jwt({"email": email, "https://api.openai.com/auth": {
        "chatgpt_account_id": "acc-42", "chatgpt_plan_type": "plus"}})


def test_codex_cli_login_with_a_jwt_access_token(tmp_path) -> None:
    access = make_jwt({"exp": 1893456000})
    path = _codex_file(tmp_path, {"OPENAI_API_KEY": None, "last_refresh": "2025-11-19T10:00:00.123456789Z",
                                  "tokens": {"id_token": _id_token(), "access_token": access,
                                             "refresh_token": "rt-1", "account_id": "acc-42"}})
    cred = import_codex_cli_login(path)
    assert cred == {"type": "codex", "email": "gina@example.com", "access_token": access, "refresh_token": "rt-1",
                    "id_token": cred["id_token"], "account_id": "acc-42", "expired": "2030-01-01T00:00:00Z",
                    "last_refresh": "2025-11-19T10:00:00Z", "plan_type": "plus"}


def test_codex_cli_login_with_an_opaque_access_token_is_due_now(tmp_path) -> None:
    path = _codex_file(tmp_path, {"tokens": {"id_token": _id_token(), "access_token": "opaque",
                                             "refresh_token": "rt-1"}})
    cred = import_codex_cli_login(path)
    assert abs(parse_rfc3339(cred["expired"]) - time.time()) < 5
    assert cred["account_id"] == "acc-42"  # from the id_token when the file has none


def test_codex_cli_login_errors_are_clear(tmp_path) -> None:
    with pytest.raises(LoginError, match="no Codex CLI login found"):
        import_codex_cli_login(tmp_path / "missing.json")
    with pytest.raises(LoginError, match="API key"):
        import_codex_cli_login(_codex_file(tmp_path, {"OPENAI_API_KEY": "sk-proj-x"}))
    with pytest.raises(LoginError, match="no email"):
        import_codex_cli_login(_codex_file(tmp_path, {"tokens": {
            "id_token": make_jwt({"sub": "x"}), "access_token": "a", "refresh_token": "r"}}))
