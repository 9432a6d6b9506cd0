"""Builds the ASGI app from the environment; also the uvicorn factory for several workers."""

from __future__ import annotations

from starlette.types import ASGIApp

from gateway.config import load_settings


def create_app() -> ASGIApp:
    from gateway import litellm_app
    from gateway.asgi import build_app
    from gateway.logging_setup import configure_logging
    from gateway.runtime import build_runtime, set_runtime

    settings = load_settings()
    configure_logging(settings)  # a worker process starts with logging unconfigured
    rt = build_runtime(settings)
    set_runtime(rt)
    return build_app(rt, litellm_app.proxy_app(settings.config_path))
