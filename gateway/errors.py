"""Every client-facing error body, and the gateway's internal exceptions.

A caller gets errors in its own dialect: Anthropic-shaped on /v1/messages*, OpenAI-shaped elsewhere,
the reference system's small JSON bodies on Amp management routes. Building them here, once, keeps the
shapes identical across the client-key check, the account layer, LiteLLM's re-wrapped errors and Amp.

Internal exceptions (a provider's own errors live in custom_providers/errors.py):

    GatewayError
    └── AccountError              an account cannot serve right now
        └── NeedsLogin            its refresh token was rejected; only a new login helps
"""

from __future__ import annotations

import json
import math
import time
from typing import Literal, Sequence

Dialect = Literal["openai", "anthropic"]


class GatewayError(Exception):
    pass


class AccountError(GatewayError):
    pass


class NeedsLogin(AccountError):
    pass


def dialect_for_path(path: str) -> Dialect:
    """Anthropic clients call /v1/messages (also behind Amp's /api/provider/... aliases)."""
    return "anthropic" if "/messages" in path else "openai"


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def anthropic_error_type(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def openai_error_type(status: int) -> str:
    return _OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(
    dialect: Dialect,
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    extra: dict | None = None,
) -> dict:
    if dialect == "anthropic":
        err: dict = {"type": error_type or anthropic_error_type(status), "message": message}
        if extra:
            err.update(extra)
        return {"type": "error", "error": err}
    err = {
        "message": message,
        "type": error_type or openai_error_type(status),
        "param": param,
        "code": code,
    }
    if extra:
        err.update(extra)
    return {"error": err}


def seconds_until(reset_at: float, now: float | None = None) -> int:
    """Whole seconds until reset_at, never less than 1 (a 0 invites a hot retry loop)."""
    return max(1, math.ceil(reset_at - (time.time() if now is None else now)))


def usage_limit_message(model: str, reset: float) -> str:
    """What a client reads when every account of `model`'s pool is blocked until `reset`."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset))
    return (f"All accounts for model {model} have hit their usage limit; the earliest resets at {when} "
            f"(in {seconds_until(reset)} s).")


def json_bytes(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def no_accounts_message(provider: str | None, known: Sequence[str] = ()) -> str:
    if provider:
        return (
            f"No {provider} account is logged in to the gateway. "
            f"Run `python -m gateway login {provider}` (or `python -m gateway import {provider}`), then retry."
        )
    logins = " or ".join(f"`python -m gateway login {name}`" for name in known) or "`python -m gateway login <provider>`"
    return f"No subscription account is logged in to the gateway. Run {logins}, then retry."
