"""Log format and level; a rotating file in auth-dir/logs when `logging-to-file` is on.

With several workers every worker logs its own requests and events, but a line about the state all
workers share (accounts loaded, the Router's deployments) is said by the first worker only, so two
workers read like one gateway: such lines carry `extra=GATEWAY_WIDE`.
"""

from __future__ import annotations

import logging
import logging.handlers
import os

from gateway import litellm_log_filter
from gateway.config import GatewaySettings

GATEWAY_WIDE = {"gateway_wide": True}
WORKER_ENV = "SUBGATE_WORKER"  # the worker's index, set by gateway/workers.py


class FirstWorkerSays(logging.Filter):
    """In every worker but the first, drops the lines about state the workers share."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "gateway_wide", False)


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
    if os.environ.get(WORKER_ENV, "0") != "0" and not settings.debug:
        for h in root.handlers:  # on the handlers: a logger's own filter misses its children's records
            if not any(isinstance(f, FirstWorkerSays) for f in h.filters):
                h.addFilter(FirstWorkerSays())
    # LiteLLM logs every request at INFO and repeats, as tracebacks, errors the gateway already reported.
    for name in ("LiteLLM", "LiteLLM Proxy", "LiteLLM Router"):
        logging.getLogger(name).setLevel(logging.DEBUG if settings.debug else logging.ERROR)
    litellm_log_filter.install(settings.debug)
