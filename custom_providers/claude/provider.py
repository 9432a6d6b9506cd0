"""The Claude Pro/Max subscription as a gateway provider: LiteLLM's own `anthropic/` models, called with
an account's OAuth token and shaped like Claude Code (custom_providers/claude/shaping.py)."""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

import httpx

from custom_providers.claude import usage_headers, count_tokens, login_import, oauth, shaping
from custom_providers.claude.settings import ClaudeSettings
from custom_providers.oauth_flow import PKCEPair
from custom_providers.provider import LoginOptions, Provider
from custom_providers.usage_reading import UsageReading

# Output limits per Claude family (Anthropic's model table); first match wins, unknown names get the
# conservative default so a client never asks for more than the model allows.
MAX_OUTPUT_TOKENS: tuple[tuple[str, int], ...] = (
    (r"opus-4-[5-9]|opus-4\.[5-9]", 64000),
    (r"opus-4", 32000),
    (r"sonnet-4|haiku-4|3-7-sonnet", 64000),
)
DEFAULT_MAX_OUTPUT_TOKENS = 32000


class ClaudeProvider(Provider):
    name = "claude"
    dialect = "anthropic"
    label = "Claude"
    subscription = "Claude Pro/Max"
    model_family = "Claude"
    aliases = ("anthropic",)
    login_tool = "Claude Code"
    settings_type = ClaudeSettings
    settings: ClaudeSettings

    def output_token_limit(self, model: str) -> int:
        for pattern, limit in MAX_OUTPUT_TOKENS:
            if re.search(pattern, model):
                return limit
        return DEFAULT_MAX_OUTPUT_TOKENS

    async def refresh(self, http: httpx.AsyncClient, refresh_token: str, current: Mapping[str, Any] | None) -> dict[str, Any]:
        return await oauth.refresh(http, self.settings, refresh_token, current=current)

    async def login(self, options: LoginOptions) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"no_browser": options.no_browser, "paste": options.paste}
        if options.timeout:
            kwargs["timeout"] = options.timeout
        return await oauth.login(self.settings, **kwargs)

    def authorize_url(self, pkce: PKCEPair, state: str) -> str:
        return oauth.authorize_url(self.settings, pkce, state)

    async def exchange_code(self, http: httpx.AsyncClient, code: str, state: str, verifier: str) -> dict[str, Any]:
        return await oauth.exchange_code(http, self.settings, code, state, verifier)

    def import_source(self, path: str | None) -> str:
        return os.path.expanduser(path or self.settings.credentials_file)

    def import_notes(self, path: str | None, email: str | None) -> list[str]:
        notes = super().import_notes(path, email)
        if not email:
            notes.append("Looking up the account's email at the Claude profile endpoint")
        return notes

    async def import_login(self, path: str | None, *, http: httpx.AsyncClient, email: str | None) -> dict[str, Any]:
        return await login_import.import_claude_code_login(path, settings=self.settings, http=http, email=email)

    def prepare_call(self, kwargs: dict[str, Any], call_type: str, *, token: str, account_id: str,
                     model_info: Mapping[str, Any]) -> None:
        shaping.prepare_call(kwargs, call_type, access_token=token, user_agent=self.settings.user_agent)

    async def count_tokens(self, http: httpx.AsyncClient, body: Mapping[str, Any], headers: Mapping[str, str],
                           *, token: str) -> httpx.Response:
        return await count_tokens.count_tokens(http, self.settings.api_base, body, headers, token=token,
                                               user_agent=self.settings.user_agent)

    def register_litellm(self) -> None:
        from custom_providers.claude.litellm_adapter import register

        register()

    def usage_from_headers(self, headers: Mapping[str, str]) -> UsageReading | None:
        return usage_headers.parse_usage_headers(headers)
