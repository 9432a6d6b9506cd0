"""Claude subscription defaults (docs/architecture.md, "Accounts and tokens"); every URL can be overridden."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from custom_providers.provider_settings import settings_from_overrides

CLAUDE_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"


@dataclass(frozen=True)
class ClaudeSettings:
    api_base: str = "https://api.anthropic.com"
    authorize_url: str = "https://claude.ai/oauth/authorize"
    token_url: str = "https://platform.claude.com/v1/oauth/token"
    profile_url: str = "https://api.anthropic.com/api/oauth/profile"
    client_id: str = CLAUDE_CLIENT_ID
    redirect_uri: str = "http://localhost:54545/callback"
    callback_port: int = 54545
    scope: str = "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload"
    refresh_lead_seconds: int = 4 * 3600
    user_agent: str = "claude-cli/2.1.220 (external, cli)"
    credentials_file: str = "~/.claude/.credentials.json"


def claude_settings(overrides: Mapping[str, Any] | None = None) -> ClaudeSettings:
    return settings_from_overrides(ClaudeSettings(), overrides or {}, "claude")
