"""Which conversation a request belongs to, from what each real client sends.

Claude Code: `x-claude-code-session-id`, or the session inside `metadata.user_id` (a JSON string with
device/account/session ids in 2.x, `user_<hash>_account_<uuid>_session_<uuid>` before). Codex CLI:
`session-id` / `session_id` headers, else the body's `prompt_cache_key` (droid sends that too).
Amp: `X-Amp-Thread-Id`. Anything else: no session, plain rotation.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

HEADER_ORDER = ("x-claude-code-session-id", "x-session-id", "session-id", "session_id", "x-amp-thread-id")


def _from_user_id(user_id: Any) -> str | None:
    if not isinstance(user_id, str) or not user_id:
        return None
    if user_id.startswith("{"):
        try:
            parsed = json.loads(user_id)
        except ValueError:
            return None
        value = parsed.get("session_id") if isinstance(parsed, dict) else None
        return str(value) if value else None
    marker = "_session_"
    if marker in user_id:
        return user_id.rsplit(marker, 1)[1] or None
    return None


def session_id(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping):
        found = _from_user_id(metadata.get("user_id"))
        if found:
            return f"cc:{found}"
    for name in HEADER_ORDER:
        value = headers.get(name)
        if value:
            prefix = "amp:" if name == "x-amp-thread-id" else ""
            return f"{prefix}{value}"
    key = body.get("prompt_cache_key")
    if isinstance(key, str) and key:
        return f"pck:{key}"
    return None
