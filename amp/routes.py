"""The Amp route table: which paths are local aliases, which are proxied upstream, which skip client auth.

Only paths listed here belong to the Amp layer; everything else goes to the gateway's own app untouched.
Literal paths come from the reference system.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

ALIAS_PREFIX = "/api/provider/"

# /api/<name> bare and /api/<name>/...
_API_TREES = ("internal", "user", "auth", "meta", "telemetry", "threads", "otel", "tab")
# /api/<name> bare only
_API_BARE = ("thread-actors", "ads")
# root /<name> bare and /<name>/...
_ROOT_TREES = ("threads", "docs", "settings", "auth")
_ROOT_EXACT = ("/threads.rss", "/news.rss")
_ROOT_PREFIXES = ("/actors/",)
# Old Amp builds send Gemini calls as Vertex-style paths; nothing local serves them, so they go upstream.
GEMINI_UPSTREAM_PREFIX = "/api/provider/google/v1beta1/"

# Pages a browser opens (it cannot send the gateway's client key): exact or followed by "/".
_BROWSER_PAGES = ("/threads", "/auth", "/docs", "/settings")

# Sub-path under /api/provider/{provider}/ -> the gateway's own route.
_POST_ALIASES = {
    "v1/chat/completions": "/v1/chat/completions",
    "chat/completions": "/v1/chat/completions",
    "v1/completions": "/v1/completions",
    "completions": "/v1/completions",
    "v1/responses": "/v1/responses",
    "responses": "/v1/responses",
    "v1/messages": "/v1/messages",
    "v1/messages/count_tokens": "/v1/messages/count_tokens",
}
_MODELS_ALIASES = {"v1/models": "/v1/models", "models": "/v1/models"}


class RouteKind(Enum):
    MODELS = "models"  # GET models list, served locally in the provider's shape
    INFERENCE = "inference"  # POST alias: local, mapped, or Amp-upstream fallback
    UNKNOWN_ALIAS = "unknown_alias"  # under /api/provider/ but not registered: 404
    GEMINI_UPSTREAM = "gemini_upstream"  # /api/provider/google/v1beta1/...: proxied like management
    MANAGEMENT = "management"  # proxied to the Amp upstream behind the gates


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    provider: str = ""
    local_path: str = ""


def classify(path: str) -> Route | None:
    """The Amp route for `path`, or None when the path is not Amp's."""
    if path.startswith(GEMINI_UPSTREAM_PREFIX):
        return Route(RouteKind.GEMINI_UPSTREAM, provider="google")
    if path.startswith(ALIAS_PREFIX):
        provider, _, sub = path[len(ALIAS_PREFIX) :].partition("/")
        if not provider:
            return Route(RouteKind.UNKNOWN_ALIAS)
        if sub in _MODELS_ALIASES:
            return Route(RouteKind.MODELS, provider.lower(), _MODELS_ALIASES[sub])
        if sub in _POST_ALIASES:
            return Route(RouteKind.INFERENCE, provider.lower(), _POST_ALIASES[sub])
        return Route(RouteKind.UNKNOWN_ALIAS, provider.lower())
    if _is_management(path):
        return Route(RouteKind.MANAGEMENT)
    return None


def _is_management(path: str) -> bool:
    if path.startswith("/api/"):
        name, slash, _ = path[len("/api/") :].partition("/")
        return (name in _API_TREES) or (name in _API_BARE and not slash)
    if path in _ROOT_EXACT or path.startswith(_ROOT_PREFIXES):
        return True
    name, _, _ = path[1:].partition("/")
    return name in _ROOT_TREES


def is_management_path(path: str) -> bool:
    """True for paths the Amp layer authenticates itself (after its 503 and localhost gates).

    The gateway's own client-key check must skip these so that the gates answer first and so that the
    browser pages (/threads, /auth, ...) stay reachable without a key.
    """
    route = classify(path)
    return route is not None and route.kind in (RouteKind.MANAGEMENT, RouteKind.GEMINI_UPSTREAM)


def is_browser_page(path: str) -> bool:
    """Root pages opened in a browser skip client auth; /threads.rss and /news.rss do not."""
    return any(path == page or path.startswith(page + "/") for page in _BROWSER_PAGES)
