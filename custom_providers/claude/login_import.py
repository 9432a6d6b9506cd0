"""Reusing an existing Claude Code login (`~/.claude/.credentials.json`) as a gateway account.

Claude Code stores `{"claudeAiOauth": {"accessToken", "refreshToken", "expiresAt" (ms), "scopes",
"subscriptionType"}}` and no email, but the gateway names accounts by email (`claude-<email>.json`),
so the email comes from the profile endpoint or from the caller. Caveat worth telling the user: both
programs then hold the same rotating refresh token, and whichever refreshes first leaves the other
with a spent one -- a fresh `login` is the cleaner choice when both stay in use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from custom_providers.claude.oauth import fetch_profile
from custom_providers.claude.settings import ClaudeSettings
from custom_providers.credentials import rfc3339
from custom_providers.errors import LoginError


def read_claude_code_credentials(path: str | Path) -> dict[str, Any]:
    """The `claudeAiOauth` object of a Claude Code credentials file, checked for the fields we need."""
    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoginError(f"no Claude Code login found at {file} (log in with `claude` first, "
                         f"or use `login claude`)") from None
    except (OSError, ValueError) as exc:
        raise LoginError(f"cannot read the Claude Code login at {file}: {exc}") from None
    oauth = data.get("claudeAiOauth") if isinstance(data, dict) else None
    if not isinstance(oauth, dict):
        raise LoginError(f"{file} has no `claudeAiOauth` object; is it a Claude Code credentials file?")
    for key in ("accessToken", "refreshToken"):
        if not isinstance(oauth.get(key), str) or not oauth[key]:
            raise LoginError(f"{file}: `claudeAiOauth.{key}` is missing or empty")
    return oauth


async def import_claude_code_login(
    path: str | Path | None = None,
    *,
    settings: ClaudeSettings | None = None,
    http: httpx.AsyncClient | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    """A credential dict from Claude Code's file; the caller saves it.

    The email is `email` when given, else looked up at the profile URL (needs `http`), else an error.
    """
    settings = settings or ClaudeSettings()
    oauth = read_claude_code_credentials(path or settings.credentials_file)
    expires_at = oauth.get("expiresAt")
    expired = (rfc3339(float(expires_at) / 1000.0)
               if isinstance(expires_at, (int, float)) and not isinstance(expires_at, bool) else rfc3339())
    ids: dict[str, Any] = {}
    if not email:
        if http is None:
            raise LoginError("Claude Code's login file holds no email: pass the account's email")
        ids = await fetch_profile(http, settings, oauth["accessToken"])
        email = ids.pop("email", None)
        if not email:
            raise LoginError("could not learn the account's email from the Claude profile endpoint "
                             "(the token may have expired): pass the email explicitly")
    credential: dict[str, Any] = {
        "type": "claude",
        "email": email,
        "access_token": oauth["accessToken"],
        "refresh_token": oauth["refreshToken"],
        "id_token": "",
        "expired": expired,
        "last_refresh": rfc3339(),
        **ids,
    }
    if oauth.get("subscriptionType"):
        credential["subscription_type"] = oauth["subscriptionType"]
    return credential
