"""Demo accounts: credential files for tokens the demo upstreams issued, written as a login would.

Two accounts per vendor so that round-robin rotation is visible in the access log and on /ui.
"""

from __future__ import annotations

import time
from pathlib import Path

from custom_providers.credentials import rfc3339
from gateway.atomic_file import write_json_atomic
from gateway.demo.upstreams import DemoUpstreams
from gateway.token_store import credential_filename

CLAUDE_EMAILS = ("claude-demo1@example.com", "claude-demo2@example.com")
CODEX_EMAILS = ("codex-demo1@example.com", "codex-demo2@example.com")


def write_demo_accounts(upstreams: DemoUpstreams, auth_dir: Path) -> list[Path]:
    """Issue fresh tokens from the fakes' token books and save one credential file per account."""
    now = time.time()
    creds = []
    for email in CLAUDE_EMAILS:
        grant = upstreams.claude_book.issue(email)
        creds.append({"type": "claude", "email": email, "id_token": "", "access_token": grant.access_token,
                      "refresh_token": grant.refresh_token, "expired": rfc3339(grant.expires_at),
                      "last_refresh": rfc3339(now), "organization_name": "Demo Organization"})
    for email in CODEX_EMAILS:
        grant = upstreams.codex_book.issue(email, upstreams.codex_oauth.account_id_for(email))
        creds.append({"type": "codex", "email": email, "id_token": upstreams.codex_oauth.id_token(grant),
                      "account_id": grant.account_id, "plan_type": upstreams.codex_oauth.plan_type,
                      "access_token": grant.access_token, "refresh_token": grant.refresh_token,
                      "expired": rfc3339(grant.expires_at), "last_refresh": rfc3339(now)})
    paths = []
    for cred in creds:
        path = auth_dir / credential_filename(cred)
        write_json_atomic(path, cred)
        paths.append(path)
    return paths
