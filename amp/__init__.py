"""Amp routes in front of the gateway: provider aliases served locally, management proxied to ampcode.com.

See docs/architecture.md, "Amp". The gateway wires `build_amp_app(local_app, ...)` in front of its own app
and lets its client-key check skip `is_management_path(path)` (the Amp layer checks those itself, after
its 503 and localhost gates).
"""

from amp.app import build_amp_app
from amp.routes import is_management_path

__all__ = ["build_amp_app", "is_management_path"]
