"""Keep Amp management routes local: judge the TCP peer only, never a forwarded header.

The management routes carry the user's Amp upstream secret, so by default only processes on this machine
may use them. X-Forwarded-For / X-Real-IP are set by whoever sends the request and prove nothing; the
reference system was spoofable that way until it switched to the socket address.
Behind a reverse proxy the restriction must therefore be switched off.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from amp.errors import amp_localhost_denied_body
from amp.http_messages import refuse_websocket, send_json

log = logging.getLogger(__name__)


def is_loopback_address(host: str) -> bool:
    """127.0.0.0/8, ::1 and IPv4-mapped ::ffff:127.x; anything unparseable is not loopback."""
    text = str(host).strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_loopback_peer(scope: Scope) -> bool:
    """127.0.0.0/8, ::1 and IPv4-mapped ::ffff:127.x; anything unparseable is not loopback."""
    client = scope.get("client")
    return bool(client) and is_loopback_address(client[0])


class LocalhostGuard:
    """403 for non-loopback peers while `enabled()` is true (read per request: hot-reloadable)."""

    def __init__(self, app: ASGIApp, enabled: Callable[[], bool]) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.enabled() or is_loopback_peer(scope):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = client[0] if client else None
        log.warning("amp: refused management request %s from non-loopback peer %s", scope.get("path"), peer)
        if scope["type"] == "websocket":
            await refuse_websocket(receive, send)
        else:
            await send_json(send, 403, amp_localhost_denied_body())
