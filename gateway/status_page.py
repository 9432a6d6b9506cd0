"""The status page: /ui (one HTML file shipped as package data) and /ui/data.json, which feeds it.

The page carries its first data inline, so it shows the accounts as soon as it loads (and in a
headless browser's DOM dump), then refreshes from /ui/data.json every few seconds. No CDN, no
framework: a table per concern and an SVG chart drawn by a few lines of JS. Nothing on it is
secret: emails, states, counts and error kinds; never tokens, keys or prompt text.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from importlib.resources import files
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response

from gateway.account_view import account_view

DATA_MARKER = "/*__SUBGATE_DATA__*/null"


@lru_cache(maxsize=1)
def _template() -> str:
    return files("gateway").joinpath("status_page.html").read_text(encoding="utf-8")


def page_data(rt: Any, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    usage = rt.usage_view()
    models = [{"model": model, **tally.as_dict()} for model, tally in sorted(usage.by_model().items())]
    return {
        "now": now,
        "accounts": [account_view(rt, acct, now) for acct in rt.store.accounts()],
        "models": models,
        "recent_errors": list(reversed(usage.recent_errors)),
        "file_problems": [{"file": name, "problem": problem} for name, problem in sorted(rt.store.problems.items())],
        "series": usage.series(),
        # Which store is shared state in, and why it is not reachable (empty while it is).
        "store": {"kind": rt.shared.kind, "degraded": rt.shared.degraded},
    }


def render_page(rt: Any) -> str:
    # `<` escaped so no value (an email, an error message) can close the script element.
    data = json.dumps(page_data(rt)).replace("<", "\\u003c")
    return _template().replace(DATA_MARKER, data, 1)


class StatusPage:
    def __init__(self, rt: Any) -> None:
        self.rt = rt

    def respond(self, path: str) -> Response:
        headers = {"Cache-Control": "no-store"}
        if path in ("/ui", "/ui/"):
            return HTMLResponse(render_page(self.rt), headers=headers)
        if path == "/ui/data.json":
            return JSONResponse(page_data(self.rt), headers=headers)
        return JSONResponse({"error": "not found"}, status_code=404)
