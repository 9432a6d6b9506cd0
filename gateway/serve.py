"""uvicorn around the gateway app, on the socket gateway/port_claim.py bound before start-up.

uvicorn runs with proxy_headers off so that `scope["client"]` is the TCP peer: the Amp management
guard must judge the socket, never a header. With several workers each worker builds the app through
gateway.server:create_app (which configures logging in that process too).

Signals (one worker): the first SIGINT/SIGTERM stops accepting and lets requests in flight finish
for `gateway.shutdown-grace-seconds`; the deadline or a second signal stops the rest through
gateway/drain.py, each with an answer its client can read; a third signal quits at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType
from typing import Any

import uvicorn

from gateway import drain
from gateway.config import GatewaySettings

log = logging.getLogger("subgate")

UVICORN_OPTIONS: dict[str, Any] = {
    "proxy_headers": False, "log_level": "warning", "lifespan": "on", "ws": "websockets-sansio",
}


def _requests(n: int) -> str:
    return f"{n} request{'' if n == 1 else 's'}"


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, grace: float) -> None:
        super().__init__(config)
        self.grace = grace
        self.signals = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        layer, loop = drain.active, self.loop
        if layer is None or loop is None or not self.started:
            super().handle_exit(sig, frame)
            return
        self.signals += 1
        if self.signals == 1:
            in_flight = layer.count()
            if in_flight:
                log.info("draining %s, up to %g s (Ctrl-C again to stop now)", _requests(in_flight), self.grace)
            else:
                log.info("stopping: no request in flight")
            loop.call_soon_threadsafe(loop.call_later, self.grace, self._stop_requests, "the grace period is over")
            super().handle_exit(sig, frame)  # stop accepting; uvicorn waits for the connections
        elif self.signals == 2:
            loop.call_soon_threadsafe(self._stop_requests, "second signal")
        else:
            super().handle_exit(sig, frame)  # uvicorn's force-quit

    def _stop_requests(self, why: str) -> None:
        layer = drain.active
        stopped = layer.stop_all() if layer is not None else 0
        if stopped:
            log.info("%s: stopping %s now, each with an error its client can read", why, _requests(stopped))


def serve(settings: GatewaySettings, sock: socket.socket, *, workers: int = 1) -> None:
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config("gateway.server:create_app", factory=True, host=settings.host, port=settings.port,
                                workers=workers, **UVICORN_OPTIONS)
        Multiprocess(config, sockets=[sock]).run()
        return
    from gateway.server import create_app

    # uvicorn's own deadline only backs up the drain's, should a request ignore being stopped
    config = uvicorn.Config(create_app(), host=settings.host, port=settings.port,
                            timeout_graceful_shutdown=settings.shutdown_grace_seconds + 10, **UVICORN_OPTIONS)
    try:
        GatewayServer(config, settings.shutdown_grace_seconds).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled, once everything has stopped
        pass
