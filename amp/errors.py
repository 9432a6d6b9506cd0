"""The Amp reference system's error bodies: flat JSON the Amp CLI already knows how to show.

Errors in a model dialect (an alias path no route serves) are rendered by the gateway's front layer,
which hands build_amp_app its renderer; these are the Amp-only answers.
"""

from __future__ import annotations


def amp_unavailable_body() -> dict:
    return {"error": "amp upstream proxy not available"}


def amp_upstream_error_body() -> dict:
    return {"error": "amp_upstream_proxy_error", "message": "Failed to reach Amp upstream"}


def amp_localhost_denied_body() -> dict:
    return {"error": "Access denied: management routes restricted to localhost"}


def amp_auth_error_body(message: str) -> dict:
    return {"error": message}
