"""Reading one credential file, and saying plainly what is wrong with it when it cannot be used.

A file broken by a crash, an editor or a copy (empty, cut-off JSON, `{}`) is left out of routing,
reported once per change of the file (log and /ui) and named by `doctor` with the command that
fixes it. Hidden files in auth-dir are the gateway's own state (.usage-stats.json, ...), never
credentials.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Collection


def read_credential(path: Path, providers: Collection[str] = ()) -> tuple[dict[str, Any] | None, str]:
    """(data, "") for a usable file, (None, problem) otherwise; (None, "") when it is gone.

    A file of a provider this gateway does not serve (CLIProxyAPI keeps others in the same
    directory) is returned as it is, unjudged."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, ""
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot be read ({getattr(exc, 'strerror', None) or type(exc).__name__})"
    if not text.strip():
        return None, "is empty"
    try:
        data = json.loads(text)
    except ValueError as exc:
        msg = str(getattr(exc, "msg", "parse error"))
        if hasattr(exc, "lineno"):  # json's messages end in "at" when a position follows
            msg = f"{msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}"
        return None, f"is not valid JSON ({msg})"
    if not isinstance(data, dict):
        return None, "holds no JSON object"
    if not data.get("type"):
        return None, 'has no "type" saying which provider it belongs to'
    if data["type"] in providers and not data.get("access_token") and not data.get("refresh_token"):
        return None, "holds no access or refresh token"
    return data, ""


def provider_guess(path: Path, providers: list[str]) -> str | None:
    for name in providers:
        if path.name.startswith(f"{name}-"):
            return name
    return None


def fix_for(path: Path, providers: list[str]) -> str:
    provider = provider_guess(path, providers)
    login = f"`python -m gateway login {provider}`" if provider else "`python -m gateway login <provider>`"
    return f"log in again with {login} (it rewrites the file), or move {shlex.quote(str(path))} out of auth-dir"
