"""The ChatGPT Plus/Pro subscription (Codex backend) as a gateway provider: LiteLLM's `chatgpt/` models
with the subclasses in custom_providers/codex/litellm_adapter.py, called with an account's OAuth token
and its `ChatGPT-Account-Id` (custom_providers/codex/shaping.py)."""

from __future__ import annotations

import os
from typing import Any, Mapping

import httpx

from custom_providers.codex import usage_headers, login_import, oauth, shaping
from custom_providers.codex import usage_screen as screen
from custom_providers.codex.settings import CodexSettings
from custom_providers.oauth_flow import PKCEPair
from custom_providers.provider import LoginOptions, Provider
from custom_providers.usage_reading import UsageReading, Window

GPT_MAX_OUTPUT_TOKENS = 128000


class CodexProvider(Provider):
    name = "codex"
    dialect = "openai"
    label = "Codex"
    subscription = "ChatGPT Plus/Pro"
    model_family = "GPT"
    aliases = ("openai", "chatgpt")
    login_tool = "Codex CLI"
    device_login = True
    quota_error_type = "usage_limit_reached"
    settings_type = CodexSettings
    usage_screen_paths = screen.PATHS
    account_check_paths = screen.ACCOUNT_CHECK_PATHS
    account_id_header = "chatgpt-account-id"
    relayed_stream_dialect = "responses"
    settings: CodexSettings

    def output_token_limit(self, model: str) -> int:
        return GPT_MAX_OUTPUT_TOKENS

    async def refresh(self, http: httpx.AsyncClient, refresh_token: str, current: Mapping[str, Any] | None) -> dict[str, Any]:
        return await oauth.refresh(http, self.settings, refresh_token, current=current)

    async def login(self, options: LoginOptions) -> dict[str, Any]:
        return await oauth.login(self.settings, no_browser=options.no_browser, paste=options.paste,
                                 device=options.device, timeout=options.timeout)

    def authorize_url(self, pkce: PKCEPair, state: str) -> str:
        return oauth.authorize_url(self.settings, pkce, state)

    async def exchange_code(self, http: httpx.AsyncClient, code: str, state: str, verifier: str) -> dict[str, Any]:
        return await oauth.exchange_code(http, self.settings, code, verifier)

    def import_source(self, path: str | None) -> str:
        return os.path.expanduser(path or self.settings.auth_file)

    async def import_login(self, path: str | None, *, http: httpx.AsyncClient, email: str | None) -> dict[str, Any]:
        return login_import.import_codex_cli_login(path, settings=self.settings)

    def prepare_call(self, kwargs: dict[str, Any], call_type: str, *, token: str, account_id: str,
                     model_info: Mapping[str, Any]) -> None:
        from custom_providers.codex.litellm_adapter import serve_as_responses

        serve_as_responses(str(kwargs.get("model") or ""))
        shaping.prepare_call(kwargs, call_type, access_token=token, account_id=account_id,
                             forced_effort=model_info.get("gw_reasoning_effort"), settings=self.settings)

    def estimate_tokens(self, body: Mapping[str, Any], model: str) -> int | None:
        """The Codex backend has no count endpoint: a local tiktoken estimate."""
        from custom_providers.codex.token_count import count_tokens

        return count_tokens(dict(body), model)

    def websocket_relay(self) -> Any:
        from custom_providers.codex.websocket import SocketRelay

        return SocketRelay(self.settings)

    def register_litellm(self) -> None:
        from custom_providers.codex.litellm_adapter import register

        register()

    def usage_from_headers(self, headers: Mapping[str, str]) -> UsageReading | None:
        return usage_headers.parse_usage_headers(headers)

    def usage_screen(self, plan: str, five_hour: Window | None, weekly: Window | None, *, limit_reached: bool,
                     now: float) -> dict[str, Any]:
        return screen.usage_body(plan, five_hour, weekly, limit_reached=limit_reached, now=now)

    def account_check(self, caller_account_id: str, plan: str) -> dict[str, Any]:
        return screen.accounts_check_body(caller_account_id, plan)
