"""Reusing an existing Codex CLI login (`~/.codex/auth.json`) as a gateway account.

Codex CLI stores `{"OPENAI_API_KEY": ..., "tokens": {"id_token", "access_token", "refresh_token",
"account_id"}, "last_refresh"}`. The email and account id come from the id_token (as after a login);
the expiry from the access token's `exp` when it is a JWT, else "now" so the gateway refreshes before
first use. Caveat: Codex CLI and the gateway then share one rotating refresh token, and OpenAI treats
a second use as `refresh_token_reused` -- whichever refreshes second is logged out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from custom_providers.codex.id_token import jwt_expiry, parse_id_token
from custom_providers.codex.settings import CodexSettings
from custom_providers.credentials import parse_rfc3339, rfc3339
from custom_providers.errors import LoginError


def import_codex_cli_login(path: str | Path | None = None, *, settings: CodexSettings | None = None) -> dict[str, Any]:
    """A credential dict from Codex CLI's auth.json; the caller saves it."""
    file = Path(path or (settings or CodexSettings()).auth_file).expanduser()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoginError(f"no Codex CLI login found at {file} (run `codex login` first, or use `login codex`)") from None
    except (OSError, ValueError) as exc:
        raise LoginError(f"cannot read the Codex CLI login at {file}: {exc}") from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, dict):
        if isinstance(data, dict) and data.get("OPENAI_API_KEY"):
            raise LoginError(f"{file} holds an API key, not a ChatGPT login; run `codex login` with ChatGPT")
        raise LoginError(f"{file} has no `tokens` object; is it a Codex CLI auth.json?")
    for key in ("id_token", "access_token", "refresh_token"):
        if not isinstance(tokens.get(key), str) or not tokens[key]:
            raise LoginError(f"{file}: `tokens.{key}` is missing or empty")
    claims = parse_id_token(tokens["id_token"])
    if not claims.email:
        raise LoginError(f"{file}: the id_token carries no email")
    account_id = claims.account_id or str(tokens.get("account_id") or "")
    last = parse_rfc3339(data.get("last_refresh"))
    credential: dict[str, Any] = {
        "type": "codex",
        "email": claims.email,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "id_token": tokens["id_token"],
        "account_id": account_id,
        "expired": rfc3339(jwt_expiry(tokens["access_token"])),
        "last_refresh": rfc3339(last),
    }
    if claims.plan_type:
        credential["plan_type"] = claims.plan_type
    return credential
