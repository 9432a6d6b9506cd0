"""The fake ChatGPT backend's account endpoints under /backend-api/wham/, which Codex CLI's /status reads.

The meter (gateway/demo/fakes/usage_meter.py) holds each account's usage; these answers report it in the
backend's own shape, so the gateway's answers to the same paths can be compared with the upstream's.
The server (gateway/demo/fakes/codex_backend.py) routes GETs under WHAM_PREFIX here.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.demo.fakes.tokens import TokenBook, TokenStatus
from gateway.demo.fakes.usage_meter import UsageMeter

WHAM_PREFIX = "/backend-api/wham/"
USAGE_PATH = "/backend-api/wham/usage"
ACCOUNTS_CHECK_PATH = "/backend-api/wham/accounts/check"

Answer = tuple[int, dict[str, Any]]


def wham_answer(path: str, headers: dict[str, str], book: TokenBook, meter: UsageMeter) -> Answer:
    """The status and JSON body the backend gives a GET of `path` (401 without a live token, 404 if unknown)."""
    token = headers.get("authorization", "").removeprefix("Bearer ").strip()
    status, grant = book.check(token)
    if status is not TokenStatus.VALID or grant is None:
        return 401, auth_error("token_invalidated", "Provided authentication token is invalid.")
    if path == USAGE_PATH:
        return 200, _usage(meter, grant.email)
    if path == ACCOUNTS_CHECK_PATH:
        return 200, _accounts(grant.account_id)
    return 404, {"detail": "Not Found"}


def _usage(meter: UsageMeter, email: str) -> dict[str, Any]:
    reading = meter.read(email)
    now = time.time()

    def window(used: float, minutes: int, reset: float) -> dict[str, int]:
        return {"used_percent": int(round(used)), "limit_window_seconds": minutes * 60,
                "reset_after_seconds": max(0, int(reset - now)), "reset_at": int(reset)}

    return {
        "plan_type": "plus",
        "rate_limit": {
            "allowed": reading.full is None, "limit_reached": reading.full is not None,
            "primary_window": window(reading.five_hour_used, reading.five_hour_minutes, reading.five_hour_reset),
            "secondary_window": window(reading.weekly_used, reading.weekly_minutes, reading.weekly_reset),
        },
        "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
    }


def _accounts(account_id: str) -> dict[str, Any]:
    """The login's workspaces, in the list form Codex CLI decodes (one personal workspace, no routing)."""
    entry = {"id": account_id, "name": None, "profile_picture_url": None, "structure": "personal",
             "plan_type": "plus", "workspace_backend_origin": "NO_CONSTRAINT",
             "account_routing_override": "NO_CONSTRAINT", "is_deactivated": False, "can_access_with_session": True,
             "sso_connection_name": None, "is_fedramp_compliant_workspace": False}
    return {"accounts": [entry], "account_ordering": [account_id], "default_account_id": account_id}


def auth_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}, "status": 401}
