"""The request body limit (`gateway.max-body-mb`): a larger body is refused before it is read.

Without it a 200 MB body was read whole, copied a few times on its way to the upstream and left the
process at ~1.9 GB. A declared Content-Length over the limit is answered 413 before a byte is read
(uvicorn then never sends `100 Continue`, so curl and the SDKs do not even upload it); a chunked body
is counted as it arrives and refused at the first chunk past the limit, the inner app seeing the
client gone. The answer is in the caller's dialect, like every other error.
"""

from __future__ import annotations

from typing import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import dialect_for_path, error_body

MB = 1024 * 1024


class TooLarge(Exception):
    pass


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers") or ():
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_mb: Callable[[], float]) -> None:
        self.app = app
        self.limit_mb = limit_mb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = int(self.limit_mb() * MB)
        declared = _declared_length(scope)
        if declared is not None:
            if declared > limit:
                await self._refuse(scope, send, limit)
                return
            await self.app(scope, receive, send)  # the server never hands over more than declared
            return
        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the inner app's answer to a body it never got whole
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except TooLarge:
            pass
        except Exception:
            if not refused:
                raise
        if refused and not started:
            await self._refuse(scope, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, limit: int) -> None:
        path = scope.get("path", "")
        mb = f"{limit / MB:g}"
        text = (f"The request body is larger than this gateway accepts ({mb} MB). Send a smaller request, "
                "or raise gateway.max-body-mb in the config.")
        body = error_body(dialect_for_path(path), 413, text, code="request_too_large")
        response = JSONResponse(body, status_code=413, headers={"connection": "close"})

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)
