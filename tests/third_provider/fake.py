"""The parrot provider's upstream: an OpenAI-style chat endpoint that only serves its own tokens.

Strict like the real services' fakes: a request without a live bearer token is a 401, one whose
account header does not belong to the token is a 403, a body that is not a chat request is a 400,
and a refresh token works once.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.tokens import RefreshReused, RefreshUnknown, TokenBook, TokenStatus
from tests.third_provider.provider import ACCOUNT_HEADER


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status)


class ParrotFake:
    def __init__(self, book: TokenBook) -> None:
        self.book = book
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/oauth/token", self.token, methods=["POST"]),
        ])

    async def chat(self, request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        status, grant = self.book.check(auth.removeprefix("Bearer "))
        if not auth.startswith("Bearer ") or status is not TokenStatus.VALID or grant is None:
            return _error(401, "invalid or expired token", "authentication_error")
        if request.headers.get(ACCOUNT_HEADER) != grant.account_id:
            return _error(403, f"{ACCOUNT_HEADER} does not match the token's account", "permission_error")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body is not JSON", "invalid_request_error")
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(body.get("model"), str) or not isinstance(messages, list) or not messages:
            return _error(400, "model and a non-empty messages list are required", "invalid_request_error")
        if body.get("stream"):
            return _error(400, "this fake does not stream", "invalid_request_error")
        self.requests.append({"email": grant.email, "body": body})
        last = messages[-1].get("content") if isinstance(messages[-1], dict) else None
        text = f"parrot says: {last}"
        return JSONResponse({
            "id": f"chatcmpl-parrot-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        })

    async def token(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        try:
            grant = self.book.rotate(str(body.get("refresh_token") or ""))
        except (RefreshReused, RefreshUnknown):
            return JSONResponse({"error": "invalid_grant"}, 400)
        return JSONResponse({
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(grant.expires_at)),
        })
