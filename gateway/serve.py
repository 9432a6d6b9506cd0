"""uvicorn around the gateway app, on the socket gateway/port_claim.py bound before start-up.

uvicorn runs with proxy_headers off so that `scope["client"]` is the TCP peer: the Amp management
guard must judge the socket, never a header. With several workers each worker builds the app through
gateway.server:create_app (which configures logging in that process too).

Signals (one worker): the first SIGINT/SIGTERM stops accepting and lets requests in flight finish
for `gateway.shutdown-grace-seconds`; the deadline or a second signal stops the rest through
gateway/drain.py, each with an answer its client can read; a third signal quits at once.
With several workers the supervisor (gateway/workers.py) takes the signals and speaks for the whole
gateway; each worker drains on the supervisor's SIGTERM and stops its requests on SIGUSR1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from types import FrameType
from typing import Any, Iterator

import uvicorn

from gateway import drain
from gateway.config import GatewaySettings

log = logging.getLogger("subgate")

UVICORN_OPTIONS: dict[str, Any] = {
    "proxy_headers": False, "log_level": "warning", "lifespan": "on", "ws": "websockets-sansio",
}


def requests_text(n: int) -> str:
    return f"{n} request{'' if n == 1 else 's'}"


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, grace: float, *, in_flight: Any = None) -> None:
        super().__init__(config)
        self.grace = grace
        self.signals = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.in_flight = in_flight  # set for a supervised worker: its count, read by the supervisor

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        if self.in_flight is not None and drain.active is not None:
            drain.active.shared_count = self.in_flight
        await super().startup(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self.in_flight is None:
            with super().capture_signals():
                yield
            return
        # A worker: Ctrl-C reaches the whole process group, but only the supervisor's word counts.
        originals = {sig: signal.signal(sig, self.supervised_signal)
                     for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def supervised_signal(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM: drain (the supervisor logs for the whole gateway); SIGUSR1: stop the requests now."""
        loop = self.loop
        if sig == signal.SIGTERM and not self.should_exit:
            self.should_exit = True  # stop accepting; uvicorn waits for the connections
            if loop is not None:  # a backup: the supervisor sends SIGUSR1 at its own deadline
                loop.call_soon_threadsafe(loop.call_later, self.grace + 1, self._stop_requests, "")
        elif sig == signal.SIGUSR1:
            self.should_exit = True
            if loop is not None:
                loop.call_soon_threadsafe(self._stop_requests, "")

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        layer, loop = drain.active, self.loop
        if layer is None or loop is None or not self.started:
            super().handle_exit(sig, frame)
            return
        self.signals += 1
        if self.signals == 1:
            in_flight = layer.count()
            if in_flight:
                log.info("draining %s, up to %g s (Ctrl-C again to stop now)", requests_text(in_flight), self.grace)
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
        if stopped and why:
            log.info("%s: stopping %s now, each with an error its client can read", why, requests_text(stopped))


def serve(settings: GatewaySettings, sock: socket.socket, *, workers: int = 1) -> int:
    """Serves until stopped; the exit status."""
    # uvicorn's own deadline only backs up the drain's, should a request ignore being stopped
    backup = settings.shutdown_grace_seconds + 10
    if workers > 1:
        from gateway.workers import Supervisor

        config = uvicorn.Config("gateway.server:create_app", factory=True, host=settings.host, port=settings.port,
                                workers=workers, timeout_graceful_shutdown=backup, **UVICORN_OPTIONS)
        return Supervisor(config, sock, workers, settings.shutdown_grace_seconds).run()
    from gateway.server import create_app

    config = uvicorn.Config(create_app(), host=settings.host, port=settings.port,
                            timeout_graceful_shutdown=backup, **UVICORN_OPTIONS)
    try:
        GatewayServer(config, settings.shutdown_grace_seconds).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled, once everything has stopped
        pass
    return 0
