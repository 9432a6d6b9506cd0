"""Reading claims out of OpenAI's JWTs without verifying them (docs/architecture.md, "Accounts and tokens").

The gateway only needs to know *whose* token it holds -- the email and ChatGPT account id that name
the credential file and go into `Chatgpt-Account-Id` -- and when the access token expires. Trust comes
from having received the token over TLS from the token endpoint, so, like the reference, the signature
is not checked.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

AUTH_CLAIM = "https://api.openai.com/auth"


@dataclass(frozen=True)
class IdTokenClaims:
    email: str = ""
    account_id: str = ""
    plan_type: str = ""
    user_id: str = ""


def jwt_payload(token: str) -> dict[str, Any] | None:
    """The decoded middle part of a three-part JWT, or None when `token` is not one."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    return payload if isinstance(payload, dict) else None


def parse_id_token(id_token: str) -> IdTokenClaims:
    """Email, account id and plan; empty fields when the token is unreadable (the caller decides)."""
    payload = jwt_payload(id_token) or {}
    auth = payload.get(AUTH_CLAIM)
    auth = auth if isinstance(auth, dict) else {}
    return IdTokenClaims(
        email=str(payload.get("email") or ""),
        account_id=str(auth.get("chatgpt_account_id") or ""),
        plan_type=str(auth.get("chatgpt_plan_type") or ""),
        user_id=str(auth.get("chatgpt_user_id") or auth.get("user_id") or ""),
    )


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (seconds since the epoch) of a JWT access token, if it is one."""
    exp = (jwt_payload(token) or {}).get("exp")
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
