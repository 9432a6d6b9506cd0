"""`python -m gateway.amp`: the one-port gateway (LiteLLM's /v1 routes + Amp routes) under uvicorn.

The module name is fixed by the design card. uvicorn runs with proxy_headers off so that
`scope["client"]` is the TCP peer: the Amp management guard must judge the socket, never a header.
`--demo` serves the same gateway in front of built-in vendor stand-ins (gateway.demo); it is the only
production path that imports gateway.demo.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time
from typing import TYPE_CHECKING

from gateway import port_claim
from gateway.config import DEFAULT_CONFIG_PATH, ConfigError, GatewaySettings, load_settings
from gateway.logging_setup import configure_logging
from gateway.serve import serve
from gateway.start_banner import accounts_banner, announce_when_ready, gateway_url

if TYPE_CHECKING:
    from gateway.demo.mode import DemoMode


def parse_args(argv: list[str] | None = None, prog: str = "python -m gateway.amp") -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description="Serve the subgate gateway.")
    p.add_argument("--config", default=None, help="YAML config (default: config/litellm.yaml or $SUBGATE_CONFIG)")
    p.add_argument("--host", default=None, help="bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default from config: 8317)")
    p.add_argument("--auth-dir", default=None, help="credential directory (default ~/.cli-proxy-api)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers sharing auth-dir (default 1)")
    p.add_argument("--demo", action="store_true",
                   help="serve built-in stand-ins for Anthropic and ChatGPT with two demo accounts each "
                        "(temporary auth-dir, nothing reaches the vendors)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, prog: str = "python -m gateway.amp") -> int:
    args = parse_args(argv, prog)
    if args.demo:
        return _demo(args)
    return _serve(args)


def _settings(args: argparse.Namespace) -> GatewaySettings:
    if args.config:
        os.environ["SUBGATE_CONFIG"] = os.path.abspath(args.config)
    for flag, env in ((args.host, "SUBGATE_HOST"), (args.port, "SUBGATE_PORT"), (args.auth_dir, "SUBGATE_AUTH_DIR")):
        if flag is not None:
            os.environ[env] = str(flag)
    return load_settings()


def _demo(args: argparse.Namespace) -> int:
    if args.config or args.auth_dir:
        print("subgate: --demo runs the shipped config with its own temporary auth-dir; "
              "drop --config and --auth-dir", file=sys.stderr)
        return 2
    try:
        sock = port_claim.claim(*_bind_target(args))
    except ConfigError as exc:
        print(f"subgate: {exc}", file=sys.stderr)
        return 2
    except port_claim.PortTaken as exc:
        print(f"subgate: {exc}", file=sys.stderr)
        return 1
    from gateway.demo.mode import DemoMode

    demo = DemoMode.start()
    try:
        return _serve(args, demo, sock)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has shut down
        return 130
    finally:
        demo.close()


def _bind_target(args: argparse.Namespace) -> tuple[str, int]:
    """host and port from the flags and the shipped config, before demo mode changes the environment."""
    _settings(argparse.Namespace(**{**vars(args), "config": None, "auth_dir": None}))
    settings = load_settings(DEFAULT_CONFIG_PATH)
    return settings.host, settings.port


def _serve(args: argparse.Namespace, demo: DemoMode | None = None, sock: socket.socket | None = None) -> int:
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"subgate: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if sock is None:
        try:
            sock = port_claim.claim(settings.host, settings.port)
        except port_claim.PortTaken as exc:
            print(f"subgate: {exc}", file=sys.stderr)
            return 1
    url = gateway_url(settings.host, settings.port)
    if demo is not None:
        announce_when_ready(url, lambda: demo.banner(settings.host, settings.port))
    else:
        announce_when_ready(url, lambda: accounts_banner(settings))
    logging.getLogger("subgate").info("starting subgate on %s (auth-dir %s)", url, settings.auth_path)
    if args.workers > 1:
        os.environ["SUBGATE_WORKERS"] = str(args.workers)
    # one name for this start, shared by its workers and the banner (a broken file is reported once)
    os.environ["SUBGATE_RUN"] = f"{os.getpid()}-{time.time_ns()}"
    try:
        return serve(settings, sock, workers=args.workers)
    except ConfigError as exc:  # start-up (gateway/startup.py) refused: one line, no traceback
        print(f"subgate: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
