"""Codex credential file names, in both of the reference system's spellings (specs/providers.md B.6).

OLD writes `codex-<email>.json`; HEAD writes `codex-<hash8>-<email>-<plan>.json` so that one email with
several ChatGPT workspaces gets several files. The gateway writes the OLD name and reads both, so an
auth-dir shared with either version of CLIProxyAPI keeps working.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping

_HASH8 = re.compile(r"^[0-9a-f]{8}-")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class CodexFileName:
    email: str
    account_hash: str = ""  # first 8 hex chars of sha256(chatgpt_account_id), HEAD names only
    plan_type: str = ""


def credential_filename(credential: Mapping[str, Any]) -> str:
    return f"codex-{credential['email']}.json"


def account_hash(account_id: str) -> str:
    return hashlib.sha256(account_id.encode()).hexdigest()[:8] if account_id else ""


def plan_slug(plan_type: str) -> str:
    return _NON_ALNUM.sub("-", plan_type.lower()).strip("-")


def head_credential_filename(credential: Mapping[str, Any]) -> str:
    """The HEAD spelling; empty parts are left out."""
    parts = [account_hash(str(credential.get("account_id") or "")), str(credential["email"]),
             plan_slug(str(credential.get("plan_type") or ""))]
    return "codex-" + "-".join(p for p in parts if p) + ".json"


def parse_credential_filename(name: str) -> CodexFileName | None:
    """Email (and, for HEAD names, account hash and plan) from a Codex file name; None if not one.

    An email's domain may hold dashes, its top-level label may not, so the plan is whatever follows
    the first dash after the email's last dot.
    """
    if not (name.startswith("codex-") and name.endswith(".json")):
        return None
    rest = name[len("codex-"):-len(".json")]
    account = ""
    if _HASH8.match(rest) and "@" in rest[9:]:
        account, rest = rest[:8], rest[9:]
    if "@" not in rest:
        return None
    local, _, domain = rest.rpartition("@")
    plan = ""
    head, dot, tld = domain.rpartition(".")
    if dot and "-" in tld:
        tld, _, plan = tld.partition("-")
        domain = f"{head}.{tld}"
    elif not dot and account and "-" in domain:
        domain, _, plan = domain.partition("-")
    return CodexFileName(email=f"{local}@{domain}", account_hash=account, plan_type=plan)
