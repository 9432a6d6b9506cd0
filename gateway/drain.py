"""Graceful shutdown: requests in flight finish, or end with an error their client can read.

On the first SIGINT/SIGTERM the server stops accepting (uvicorn) and the gateway says how many
requests it is waiting for; they get `gateway.shutdown-grace-seconds` to finish. At the deadline, or
at a second signal, every request still running is stopped: a stream gets the error event of its
dialect and a proper end, a request that has not answered yet gets a 503, and the attempt is
recorded in the usage statistics, so nothing ends as a silent cut and nothing goes uncounted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import request_context, request_log
from gateway.errors import dialect_for_path, error_body
from gateway.stream_errors import closing_event, stream_kind

log = logging.getLogger("subgate")

SHUTTING_DOWN = "The gateway is shutting down; retry the request."


@dataclass(eq=False)
class InFlight:
    path: str
    task: asyncio.Task | None
    started: bool = False
    streaming: bool = False
    ended: bool = False
    stopped: bool = False
    facts: request_context.RequestFacts | None = field(default=None, repr=False)


class Drain:
    """Pure ASGI, just inside the request log (so a stopped request still gets its access line)."""

    def __init__(self, app: ASGIApp, on_stopped: Callable[[InFlight], None] | None = None) -> None:
        self.app = app
        self.on_stopped = on_stopped
        self.live: set[InFlight] = set()
        # with several workers: this worker's count, shared with the supervisor (gateway/workers.py)
        self.shared_count: Any = None

    def count(self) -> int:
        return len(self.live)

    def _counted(self) -> None:
        if self.shared_count is not None:
            self.shared_count.value = len(self.live)

    def stop_all(self) -> int:
        """Cancel every request still running; each answers its client on the way out."""
        stopped = 0
        for req in list(self.live):
            if not req.stopped and not req.ended and req.task is not None:
                req.stopped = True
                req.task.cancel()
                stopped += 1
        return stopped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        req = InFlight(scope.get("path", ""), asyncio.current_task())
        self.live.add(req)
        self._counted()

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                req.started = True
                req.streaming = any(k.lower() == b"content-type" and b"text/event-stream" in v
                                    for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                req.ended = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if not req.stopped or req.task is None:
                raise
            req.task.uncancel()
            req.facts = request_context.current()
            await self._answer(req, scope, send)
            if self.on_stopped is not None:
                self.on_stopped(req)
        finally:
            self.live.discard(req)
            self._counted()

    @staticmethod
    async def _answer(req: InFlight, scope: Scope, send: Send) -> None:
        request_log.note_error(SHUTTING_DOWN)
        try:
            if not req.started:
                body = error_body(dialect_for_path(req.path), 503, SHUTTING_DOWN, code="shutting_down")
                await JSONResponse(body, status_code=503, headers={"connection": "close"})(scope, _gone, send)
            elif req.streaming:
                await send({"type": "http.response.body", "body": closing_event(stream_kind(req.path), SHUTTING_DOWN)})
                await send({"type": "http.response.body", "body": b""})
            else:
                await send({"type": "http.response.body", "body": b""})
        except Exception:  # the client left meanwhile: nothing left to tell it
            pass


_stopped_calls: set[str] = set()


def was_stopped(call_id: Any) -> bool:
    """True for a request stopped at shutdown: it is counted already, only its tokens may follow."""
    return bool(call_id) and str(call_id) in _stopped_calls


active: Drain | None = None  # the serving process's layer, for the signal handler (gateway/serve.py)


def record_stopped(rt: Any) -> Callable[[InFlight], None]:
    """Counts a stopped request against the account it was running on, so usage misses none."""

    def record(req: InFlight) -> None:
        facts = req.facts
        if facts is None or not facts.accounts_tried:
            return
        acct = rt.store.get(facts.accounts_tried[-1])
        if acct is not None:
            rt.usage.record_failure(acct.id, acct.email, acct.provider, facts.model, None, SHUTTING_DOWN)
            call_id = request_log.current_call_id()
            if call_id and len(_stopped_calls) < 10_000:
                _stopped_calls.add(call_id)  # LiteLLM may still report the partial stream's tokens

    return record


async def _gone() -> Message:
    return {"type": "http.disconnect"}
