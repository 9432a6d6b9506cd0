"""`python -m gateway.amp`: the one-port gateway (LiteLLM's /v1 routes + Amp routes) under uvicorn.

The module name is fixed by the design card. uvicorn runs with proxy_headers off so that
`scope["client"]` is the TCP peer: the Amp management guard must judge the socket, never a header.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from gateway.config import ConfigError, load_settings
from gateway.logging_setup import configure_logging


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gateway.amp", description="Serve the subgate gateway.")
    p.add_argument("--config", default=None, help="YAML config (default: config/litellm.yaml or $SUBGATE_CONFIG)")
    p.add_argument("--host", default=None, help="bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default from config: 8317)")
    p.add_argument("--auth-dir", default=None, help="credential directory (default ~/.cli-proxy-api)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers sharing auth-dir (default 1)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
    import uvicorn

    log = logging.getLogger("subgate")
    log.info("subgate listening on http://%s:%d (auth-dir %s)", settings.host, settings.port, settings.auth_path)
    if args.workers > 1:
        uvicorn.run(
            "gateway.server:create_app", factory=True, host=settings.host, port=settings.port,
            workers=args.workers, proxy_headers=False, log_level="warning", lifespan="on",
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
