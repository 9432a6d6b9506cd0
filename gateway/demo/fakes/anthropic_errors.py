"""Anthropic's error envelope, shared by the fake's request rules and its routes.

The gateway forwards upstream error bodies raw (docs/architecture.md, "Errors") and classifies them by status and
`error.type`, so the fake must answer with exactly the shape and type names the real API uses.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

_ALPHABET = string.ascii_letters + string.digits

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
    529: "overloaded_error",
}

DEFAULT_MESSAGES: dict[int, str] = {
    401: "Invalid bearer token",
    403: "Your account does not have permission to use this model.",
    404: "Not found",
    429: "This request would exceed your account's rate limit. Please try again later.",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    529: "Overloaded",
}


def random_id(prefix: str, length: int = 24) -> str:
    """Ids shaped like the real ones (`req_011C…`, `msg_01…`, `toolu_01…`)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_request_id() -> str:
    return random_id("req_011C", 20)


class ApiError(Exception):
    """A refusal the fake answers with the real envelope and status."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")


def invalid(message: str) -> ApiError:
    return ApiError(400, message)


def error_envelope(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
