"""Starlette routes for the gateway's own routes (gateway/local_routes.py, gateway/management_api.py).

A path the gateway answers for one method may be served for another method by the layer behind it
(POST /v1/models is LiteLLM's to answer) or be a plain 404 (the management API), never Starlette's
405: `MethodRoute` only matches its own methods, so a Router falls through to its `default`.
"""

from __future__ import annotations

from starlette.routing import Match, Route
from starlette.types import Scope


class MethodRoute(Route):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        return (Match.NONE, {}) if match is Match.PARTIAL else (match, child)
