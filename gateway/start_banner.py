"""What `python -m gateway.amp` prints once the port answers: where it listens and what it can serve.

A newcomer's first start usually has no account yet; the gateway still starts (logins are picked up
while it runs), so the banner says exactly which command adds one, and how to try it without any.
The wait for readiness polls /health from a thread, which works the same for one worker and for
several (whose start-up happens in other processes).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import httpx

from custom_providers.registry import registry
from gateway.config import GatewaySettings

log = logging.getLogger("subgate")


def gateway_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::", "localhost") else host.strip("[]")
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def accounts_banner(settings: GatewaySettings) -> str:
    """One line per provider with its usable accounts, or the login commands when there are none."""
    from gateway.token_store import TokenStore

    async def never(_: str) -> dict:  # the banner only reads
        raise RuntimeError("not used")

    from gateway.store import open_store_now

    names = registry.names()
    backend = open_store_now(settings.store, settings.auth_path)
    store = TokenStore(auth_dir=settings.auth_path, refreshers={name: never for name in names}, backend=backend,
                       log_changes=False)  # the serving workers log what they load; this only lists it
    store.scan()
    lines = []
    for provider in names:
        accounts = store.accounts(provider)
        if not accounts:
            continue
        usable = [a.email for a in accounts if a.usable]
        other = [f"{a.email} ({a.state})" for a in accounts if not a.usable]
        listed = ", ".join(usable + other)
        count = f"{len(usable)} account{'s' if len(usable) != 1 else ''}"
        lines.append(f"  {provider:<7} {count}: {listed}")
    if lines:
        return "Serving " + " and ".join(p for p in names if store.accounts(p)) + ":\n" + "\n".join(lines)
    where = f"in {backend.where}" if settings.store else f"auth-dir {settings.auth_path}"
    how = [f"No account logged in yet ({where}). Log in; the running gateway picks it up:"]
    for kind in registry.kinds():
        device = " (add --device without a browser)" if kind.device_login else ", in the browser"
        how.append(f"  {'python -m gateway login ' + kind.name:<34} # {kind.subscription or kind.label}{device}")
    tools = [kind for kind in registry.kinds() if kind.login_tool]
    if tools:
        reuse = " / ".join(f"{kind.login_tool}'s" for kind in tools)
        others = ", ".join(f"import {kind.name}" for kind in tools[1:])
        how.append(f"  {'python -m gateway import ' + tools[0].name:<34} # or reuse {reuse} login"
                   + (f" ({others})" if others else ""))
    how.append("Or try everything first with built-in stand-ins: python -m gateway.amp --demo")
    return "\n".join(how)


def announce_when_ready(url: str, banner: Callable[[], str], *, timeout: float = 600.0) -> threading.Thread:
    """Log "listening" and print the banner once GET /health answers (daemon thread)."""

    def wait() -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get(url + "/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                return
        log.info("subgate listening on %s (status page %s/ui)", url, url)
        print(banner(), flush=True)

    thread = threading.Thread(target=wait, name="subgate-ready", daemon=True)
    thread.start()
    return thread
