"""Pieces both fake OAuth servers need: the PKCE check and turning a scripted reply into a response.

Kept apart from the fakes so the Claude and OpenAI fakes stay one file per upstream without each
carrying its own copy (one copy per provider would drift apart).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def scripted_response(reply: dict[str, Any], default_body: dict[str, Any]) -> Response:
    """`{"status", "body"?, "headers"?, "retry_after"?}` as a response; the body defaults per vendor."""
    status = int(reply["status"])
    headers = {str(k): str(v) for k, v in (reply.get("headers") or {}).items()}
    if "retry_after" in reply:
        headers["retry-after"] = str(reply["retry_after"])
    body = reply.get("body", default_body)
    if isinstance(body, str):
        return PlainTextResponse(body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)
