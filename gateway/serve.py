"""uvicorn around the gateway app, on the socket gateway/port_claim.py bound before start-up.

uvicorn runs with proxy_headers off so that `scope["client"]` is the TCP peer: the Amp management
guard must judge the socket, never a header. With several workers each worker builds the app through
gateway.server:create_app (which configures logging in that process too).
"""

from __future__ import annotations

import socket
from typing import Any

from gateway.config import GatewaySettings

UVICORN_OPTIONS: dict[str, Any] = {
    "proxy_headers": False, "log_level": "warning", "lifespan": "on", "ws": "websockets-sansio",
}


def serve(settings: GatewaySettings, sock: socket.socket, *, workers: int = 1) -> None:
    import uvicorn

    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config("gateway.server:create_app", factory=True, host=settings.host, port=settings.port,
                                workers=workers, **UVICORN_OPTIONS)
        Multiprocess(config, sockets=[sock]).run()
        return
    from gateway.server import create_app

    config = uvicorn.Config(create_app(), host=settings.host, port=settings.port, **UVICORN_OPTIONS)
    uvicorn.Server(config).run(sockets=[sock])
