"""What the gateway needs from a subscription backend, in one interface.

The gateway never switches on a provider's name: it asks the provider for its settings, its login
flows, its token refresh, the per-attempt shaping of a LiteLLM call, token counting, rate-limit and
usage facts in an upstream answer, and whatever it installs into LiteLLM. A provider is a class with
class-level facts (name, dialect, labels) and an instance bound to its frozen settings; the registry
(custom_providers/registry.py) builds one instance per provider from the `gateway.<name>:` YAML block.

Adding a backend means writing one subclass and registering it (or naming its module under
`gateway.provider-modules` in the YAML); nothing in gateway/ changes. See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Mapping

import httpx

from custom_providers.oauth_flow import PKCEPair
from custom_providers.provider_settings import settings_from_overrides
from custom_providers.rate_limits import reset_time
from custom_providers.usage_reading import UsageReading, Window

Dialect = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class LoginOptions:
    """How an interactive login should run (from the CLI's flags)."""

    no_browser: bool = False
    paste: bool = False
    device: bool = False
    timeout: float | None = None


@dataclass(frozen=True)
class Failure:
    """What a failed attempt means for the account that made it.

    `kind` is "auth" (the token was refused: refresh it), "quota" (the account is out of its
    allowance until `reset_at`, or an unknown time when None) or "other" (nothing to do for the
    account; the router retries or gives up).
    """

    kind: Literal["auth", "quota", "other"]
    reset_at: float | None = None


class Provider:
    """One subscription backend bound to its settings. Subclasses set the class facts and override the
    methods their backend supports; the defaults describe a plain bearer-token upstream."""

    #: pool name in model_list (`litellm_credential_name`), credential file `type`, `gateway.<name>:` block
    name: ClassVar[str] = ""
    #: the wire dialect its models speak natively (Factory droid's provider, /v1/models `owned_by`)
    dialect: ClassVar[Dialect] = "openai"
    #: how people call the service in messages ("Claude", "Codex")
    label: ClassVar[str] = ""
    #: the subscription people log in with ("Claude Pro/Max")
    subscription: ClassVar[str] = ""
    #: how people call its models in summaries ("Claude", "GPT")
    model_family: ClassVar[str] = ""
    #: other names the management API accepts for this provider ("anthropic", "openai", ...)
    aliases: ClassVar[tuple[str, ...]] = ()
    #: the tool whose existing login `import` reuses ("Claude Code"), "" when there is none
    login_tool: ClassVar[str] = ""
    #: `--device` login supported
    device_login: ClassVar[bool] = False
    #: error type and code of an OpenAI-dialect 429 when every account is blocked
    quota_error_type: ClassVar[str] = "rate_limit_error"
    #: the frozen dataclass of this provider's settings; its defaults are the real service
    settings_type: ClassVar[type] = object
    #: paths its own client reads its usage screen from, relative to the base URL it is given
    #: (Codex CLI's /status: /backend-api/wham/usage); the gateway answers them with `usage_screen`
    usage_screen_paths: ClassVar[tuple[str, ...]] = ()
    #: paths its client asks which upstream accounts its login has before showing that screen (Codex CLI:
    #: /backend-api/wham/accounts/check); the gateway answers them with `account_check`
    account_check_paths: ClassVar[tuple[str, ...]] = ()
    #: the request header in which its client names its upstream account (Codex: ChatGPT-Account-Id)
    account_id_header: ClassVar[str] = ""
    #: the client dialect whose streams it relays as the upstream sent them, whole events with no
    #: `data: [DONE]` added ("responses" for Codex; "" when it has none); docs/relay.md
    relayed_stream_dialect: ClassVar[str] = ""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None = None) -> "Provider":
        """An instance from the `gateway.<name>:` block (snake_case keys) and env overrides."""
        return cls(settings_from_overrides(cls.settings_type(), overrides or {}, cls.name))

    # ---- settings the gateway reads --------------------------------------------------------------
    @property
    def api_base(self) -> str:
        return str(self.settings.api_base)

    @property
    def refresh_lead_seconds(self) -> float:
        """Refresh a token this long before it expires (background loop)."""
        return float(getattr(self.settings, "refresh_lead_seconds", 3600))

    def output_token_limit(self, model: str) -> int:
        """The most output tokens `model` accepts (written into client configs such as Factory droid's)."""
        return 32000

    # ---- logins and tokens -----------------------------------------------------------------------
    async def refresh(self, http: httpx.AsyncClient, refresh_token: str, current: Mapping[str, Any] | None) -> dict[str, Any]:
        """Spend `refresh_token`; the new credential fields. `current` is the stored credential
        (its email and ids fill what the refresh reply leaves out)."""
        raise NotImplementedError(f"{self.name} cannot refresh tokens")

    async def login(self, options: LoginOptions) -> dict[str, Any]:
        """An interactive login (browser, pasted redirect or device code); the credential to save."""
        raise NotImplementedError(f"{self.name} has no interactive login")

    def authorize_url(self, pkce: PKCEPair, state: str) -> str:
        """The URL an operator opens for a login started through the management API."""
        raise NotImplementedError(f"{self.name} has no browser login")

    async def exchange_code(self, http: httpx.AsyncClient, code: str, state: str, verifier: str) -> dict[str, Any]:
        """The credential for a pasted authorization code (management API login)."""
        raise NotImplementedError(f"{self.name} has no browser login")

    def import_source(self, path: str | None) -> str:
        """The file `import` reads when no --path is given."""
        raise NotImplementedError(f"{self.name} has no login to import")

    def import_notes(self, path: str | None, email: str | None) -> list[str]:
        """What `import` tells the user before it reads (and looks anything up)."""
        return [f"Reading the {self.login_tool} login in {self.import_source(path)}"]

    async def import_login(self, path: str | None, *, http: httpx.AsyncClient, email: str | None) -> dict[str, Any]:
        """The credential of an existing login of `login_tool`."""
        raise NotImplementedError(f"{self.name} has no login to import")

    # ---- calls -----------------------------------------------------------------------------------
    def prepare_call(self, kwargs: dict[str, Any], call_type: str, *, token: str, account_id: str,
                     model_info: Mapping[str, Any]) -> None:
        """Per attempt, after the router picked this provider's account: put the token (and whatever
        the backend needs besides) into the LiteLLM call."""
        kwargs["api_key"] = token

    def estimate_tokens(self, body: Mapping[str, Any], model: str) -> int | None:
        """A local input-token count for /v1/messages/count_tokens; None: ask the upstream."""
        return None

    async def count_tokens(self, http: httpx.AsyncClient, body: Mapping[str, Any], headers: Mapping[str, str],
                           *, token: str) -> httpx.Response:
        """The upstream's answer to a count_tokens request made with an account's token."""
        raise NotImplementedError(f"{self.name} cannot count tokens")

    # ---- answers ---------------------------------------------------------------------------------
    def classify_failure(self, status: int | None, headers: Mapping[str, str], body: Any) -> Failure:
        """What a failed attempt's status, headers and body mean for the account."""
        if status == 401:
            return Failure("auth")
        if status == 429:
            return Failure("quota", reset_time(headers, body))
        return Failure("other")

    def usage_from_headers(self, headers: Mapping[str, str]) -> UsageReading | None:
        """The account's 5-hour and weekly usage as one upstream answer's headers report it (successes,
        429s, and a stream's head); None when they carry none. The gateway keeps the latest reading per
        account (gateway/headroom.py) for its views, the headroom strategy and the clients' usage screens."""
        return None

    def usage_screen(self, plan: str, five_hour: Window | None, weekly: Window | None, *, limit_reached: bool,
                     now: float) -> dict[str, Any]:
        """The body of `usage_screen_paths` in the shape this provider's client decodes, from the gateway's
        figures for one account or the pool (percent used, reset, window length)."""
        raise NotImplementedError(f"{self.name} has no usage screen")

    def account_check(self, caller_account_id: str, plan: str) -> dict[str, Any]:
        """The body of `account_check_paths`: the caller's own upstream account (the id its client sent),
        served through this gateway with no routing constraint of its own."""
        raise NotImplementedError(f"{self.name} has no account check")

    # ---- LiteLLM ---------------------------------------------------------------------------------
    def websocket_relay(self) -> Any | None:
        """The provider's Responses WebSocket relay (custom_providers/codex/websocket.py), None when its
        backend has no such transport: the gateway then refuses the upgrade so the client uses HTTP."""
        return None

    def register_litellm(self) -> None:
        """Install what this provider adds to LiteLLM (provider config classes); idempotent, called once
        at start-up. The classes hold no settings: what they need travels with each call from
        `prepare_call`, so a config reload (a new instance) applies to the next call."""
