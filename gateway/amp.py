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
import sys
from typing import TYPE_CHECKING

from gateway.config import ConfigError, load_settings
from gateway.logging_setup import configure_logging

if TYPE_CHECKING:
    from gateway.demo.mode import DemoMode


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gateway.amp", description="Serve the subgate gateway.")
    p.add_argument("--config", default=None, help="YAML config (default: config/litellm.yaml or $SUBGATE_CONFIG)")
    p.add_argument("--host", default=None, help="bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default from config: 8317)")
    p.add_argument("--auth-dir", default=None, help="credential directory (default ~/.cli-proxy-api)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers sharing auth-dir (default 1)")
    p.add_argument("--demo", action="store_true",
                   help="serve built-in stand-ins for Anthropic and ChatGPT with two demo accounts each "
                        "(temporary auth-dir, nothing reaches the vendors)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.demo:
        return _demo(args)
    return _serve(args)


def _demo(args: argparse.Namespace) -> int:
    if args.config or args.auth_dir:
        print("subgate: --demo runs the shipped config with its own temporary auth-dir; "
              "drop --config and --auth-dir", file=sys.stderr)
        return 2
    from gateway.demo.mode import DemoMode

    demo = DemoMode.start()
    try:
        return _serve(args, demo)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has shut down
        return 130
    finally:
        demo.close()


def _serve(args: argparse.Namespace, demo: DemoMode | None = None) -> int:
    if args.config:
        os.environ["SUBGATE_CONFIG"] = os.path.abspath(args.config)
    for flag, env in ((args.host, "SUBGATE_HOST"), (args.port, "SUBGATE_PORT"), (args.auth_dir, "SUBGATE_AUTH_DIR")):
        if flag is not None:
            os.environ[env] = str(flag)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"subgate: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if demo is not None:
        print(demo.banner(settings.host, settings.port), flush=True)
    import uvicorn

    log = logging.getLogger("subgate")
    log.info("subgate listening on http://%s:%d (auth-dir %s)", settings.host, settings.port, settings.auth_path)
    if args.workers > 1:
        uvicorn.run(
            "gateway.server:create_app", factory=True, host=settings.host, port=settings.port,
            workers=args.workers, proxy_headers=False, log_level="warning", lifespan="on", ws="websockets-sansio",
        )
    else:
        from gateway.server import create_app

        uvicorn.run(
            create_app(), host=settings.host, port=settings.port, proxy_headers=False,
            log_level="warning", lifespan="on", ws="websockets-sansio",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
