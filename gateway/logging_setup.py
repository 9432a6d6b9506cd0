"""Log format and level; a rotating file in auth-dir/logs when `logging-to-file` is on."""

from __future__ import annotations

import logging
import logging.handlers
import os

from gateway import litellm_log_filter
from gateway.config import GatewaySettings


def configure_logging(settings: GatewaySettings) -> None:
    level = logging.DEBUG if settings.debug else logging.INFO
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger("subgate")
    root.setLevel(level)
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(fmt)
        root.addHandler(handler)
    if settings.logging_to_file:
        logs = settings.auth_path / "logs"
        logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(logs / "subgate.log", maxBytes=10_000_000, backupCount=5)
        fh.setFormatter(fmt)
        root.addHandler(fh)
        os.chmod(logs / "subgate.log", 0o600)
    # LiteLLM logs every request at INFO and repeats, as tracebacks, errors the gateway already reported.
    for name in ("LiteLLM", "LiteLLM Proxy", "LiteLLM Router"):
        logging.getLogger(name).setLevel(logging.DEBUG if settings.debug else logging.ERROR)
    litellm_log_filter.install(settings.debug)
