"""Builds the ASGI app from the environment; also the uvicorn factory for several workers."""

from __future__ import annotations

from starlette.types import ASGIApp

from gateway.config import load_settings, read_yaml


def create_app() -> ASGIApp:
    """The gateway's own app around LiteLLM's Router; LiteLLM's proxy server is not imported."""
    from gateway import litellm_app, router_setup
    from gateway.asgi import build_app
    from gateway.logging_setup import configure_logging
    from gateway.model_routes import ModelRoutes
    from gateway.startup import start

    settings = load_settings()
    configure_logging(settings)  # a worker process starts with logging unconfigured
    rt = start(settings)
    config = read_yaml(settings.config_path)
    litellm_app.use_router(router_setup.build_router(config))
    return build_app(rt, ModelRoutes(litellm_app.router, forward_headers=router_setup.forwarded_headers(config)))
