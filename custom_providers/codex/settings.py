"""ChatGPT (Codex) subscription defaults (docs/architecture.md, "Accounts and tokens"); every URL can be overridden."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from custom_providers.provider_settings import settings_from_overrides

CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


@dataclass(frozen=True)
class CodexSettings:
    api_base: str = "https://chatgpt.com/backend-api/codex"
    authorize_url: str = "https://auth.openai.com/oauth/authorize"
    token_url: str = "https://auth.openai.com/oauth/token"
    device_usercode_url: str = "https://auth.openai.com/api/accounts/deviceauth/usercode"
    device_token_url: str = "https://auth.openai.com/api/accounts/deviceauth/token"
    device_verification_url: str = "https://auth.openai.com/codex/device"
    device_redirect_uri: str = "https://auth.openai.com/deviceauth/callback"
    client_id: str = CODEX_CLIENT_ID
    redirect_uri: str = "http://localhost:1455/auth/callback"
    callback_port: int = 1455
    scope: str = "openid email profile offline_access"
    refresh_scope: str = "openid profile email"
    refresh_lead_seconds: int = 5 * 24 * 3600
    default_instructions: str = "You are a coding agent. Follow the user's and developer's instructions."
    default_effort: str = "medium"
    originator: str = "codex_cli_rs"
    user_agent: str = "codex_cli_rs/0.169.0 (Debian 12.0.0; x86_64) xterm-256color"
    auth_file: str = "~/.codex/auth.json"


def codex_settings(overrides: Mapping[str, Any] | None = None) -> CodexSettings:
    return settings_from_overrides(CodexSettings(), overrides or {}, "codex")
