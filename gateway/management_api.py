"""The operator routes, in front of the client-key check: /v0/management/*, /metrics, /ui.

/v0/management follows the reference system's names and answers (docs/architecture.md, "Management
API"): off (404) until a management secret is configured, JSON in and out, `{"status":"ok"}` for writes, and an
X-CPA-VERSION header on every answer. Accounts are addressed by their opaque id (as listed), their
email or their file name.

    GET    accounts                    GET usage
    GET    accounts/{id}               PATCH accounts/{id} {"disabled": bool}
    POST   accounts/{id}/disable       POST accounts/{id}/enable      DELETE accounts/{id}
    GET    anthropic-auth-url | claude-auth-url | codex-auth-url  -> {"status","url","state"}
    POST   oauth-callback {provider, redirect_url | code, state}   GET get-auth-status?state=
    DELETE oauth-session?state=
    GET    ampcode                     GET/PUT/PATCH/DELETE ampcode/{setting}
    GET/PUT/PATCH/DELETE api-keys
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from dataclasses import replace
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.account_view import account_view
from gateway.config_file import hash_secret_in_file
from gateway.management_auth import ManagementAuth, hash_secret, is_bcrypt_hash
from gateway.management_oauth import LoginSessions, SessionError
from gateway.management_settings import amp_setting, amp_view, api_keys

log = logging.getLogger("subgate.management")

PREFIX = "/v0/management"
MAX_BODY = 1_000_000
_ACCOUNT = re.compile(r"^accounts/([^/]+)(?:/(disable|enable))?$")


@lru_cache(maxsize=1)
def subgate_version() -> str:
    try:
        return version("subgate")
    except PackageNotFoundError:
        pass
    try:
        data = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
        return str(data["project"]["version"])
    except (OSError, KeyError, ValueError):
        return "dev"


def hash_plaintext_secret(rt: Any) -> None:
    """A plaintext remote-management.secret-key is replaced by its bcrypt hash, in memory and in the YAML."""
    rm = rt.settings.remote_management
    if not rm.secret_key or is_bcrypt_hash(rm.secret_key):
        return
    hashed = hash_secret(rm.secret_key)
    try:
        written = hash_secret_in_file(rt.settings.config_path, hashed)
    except OSError as exc:
        written = False
        log.warning("could not write the hashed management secret back: %s", type(exc).__name__)
    if not written:
        log.warning("remote-management.secret-key is plaintext in %s and could not be replaced by its hash",
                    rt.settings.config_path)
    rt.settings = replace(rt.settings, remote_management=replace(rm, secret_key=hashed))


async def _read_json(receive: Receive) -> tuple[bool, Any]:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return False, None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    raw = b"".join(chunks).strip()
    if not raw:
        return True, None
    try:
        return True, json.loads(raw)
    except ValueError:
        return False, None


class ManagementApi:
    def __init__(self, rt: Any, auth: ManagementAuth) -> None:
        self.rt = rt
        self.auth = auth
        self.logins = LoginSessions(rt)

    def _json(self, status: int, body: Any) -> Response:
        return JSONResponse(body, status_code=status, headers={"X-CPA-VERSION": subgate_version()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = await self.auth.check_management(scope)
        if refused is not None:
            status, message = refused
            await self._json(status, {"error": message})(scope, receive, send)
            return
        method = scope.get("method", "GET")
        sub = scope.get("path", "")[len(PREFIX):].strip("/")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        body = None
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            ok, body = await _read_json(receive)
            if not ok:
                await self._json(400, {"error": "invalid body"})(scope, receive, send)
                return
        status, payload = await self.handle(method, sub, query, body)
        await self._json(status, payload)(scope, receive, send)

    async def handle(self, method: str, sub: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        rt = self.rt
        if sub == "accounts" and method == "GET":
            return 200, {"accounts": [account_view(rt, a) for a in rt.store.accounts()]}
        match = _ACCOUNT.match(sub)
        if match:
            return self._account(method, match.group(1), match.group(2), body)
        if sub == "usage" and method == "GET":
            return 200, {"usage": rt.usage.as_dict(), "models": {m: t.as_dict() for m, t in rt.usage.by_model().items()}}
        if sub.endswith("-auth-url") and method == "GET":
            provider = rt.providers.named(sub.removesuffix("-auth-url"))
            if provider is not None:
                return 200, self.logins.start(provider.name)
        if sub == "oauth-callback" and method == "POST":
            try:
                return 200, await self.logins.finish(body if isinstance(body, dict) else {})
            except SessionError as exc:
                return exc.status, {"status": "error", "error": str(exc)}
        if sub == "get-auth-status" and method == "GET":
            return 200, self.logins.status(query.get("state", ""))
        if sub == "oauth-session" and method == "DELETE":
            found = self.logins.cancel(query.get("state", ""))
            return (200, {"status": "ok"}) if found else (404, {"error": "unknown or expired state"})
        if sub == "ampcode" and method == "GET":
            return 200, {"ampcode": amp_view(rt)}
        if sub.startswith("ampcode/") and method in ("GET", "PUT", "PATCH", "DELETE"):
            return amp_setting(rt, method, sub[len("ampcode/"):], body)
        if sub == "api-keys":
            return api_keys(rt, method, body, query)
        return 404, {"error": "not found"}

    def _account(self, method: str, ident: str, action: str | None, body: Any) -> tuple[int, Any]:
        rt = self.rt
        acct = next((a for a in rt.store.accounts()
                     if ident in (a.id, a.path.name) or a.email.lower() == ident.lower()), None)
        if acct is None:
            return 404, {"error": "account not found"}
        if action is None and method == "GET":
            return 200, account_view(rt, acct)
        if action is None and method == "DELETE":
            rt.store.delete(acct)
            rt.quota.clear(acct.id, label=acct.email)
            log.info("management: account %s %s deleted", acct.provider, acct.email)
            return 200, {"status": "ok"}
        if action is not None and method == "POST":
            disabled = action == "disable"
        elif action is None and method == "PATCH" and isinstance(body, dict) and isinstance(body.get("disabled"), bool):
            disabled = body["disabled"]
        else:
            return 400, {"error": "invalid body"}
        rt.store.update_fields(acct, {"disabled": disabled})
        log.info("management: account %s %s %s", acct.provider, acct.email, "disabled" if disabled else "enabled")
        return 200, {"status": "ok"}


class OperatorRoutes:
    """Pure ASGI: answers the operator paths itself and passes everything else through untouched."""

    def __init__(self, app: ASGIApp, rt: Any) -> None:
        from gateway.status_page import StatusPage

        self.app = app
        self.rt = rt
        hash_plaintext_secret(rt)
        self.auth = ManagementAuth(lambda: rt.settings.remote_management)
        self.management = ManagementApi(rt, self.auth)
        self.status_page = StatusPage(rt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == PREFIX or path.startswith(PREFIX + "/"):
            await self.management(scope, receive, send)
            return
        if path == "/metrics" or path == "/ui" or path.startswith("/ui/"):
            await self._viewer(scope, receive, send, path)
            return
        await self.app(scope, receive, send)

    async def _viewer(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        if path != "/metrics" and self.rt.settings.remote_management.disable_control_panel:
            await JSONResponse({"error": "not found"}, status_code=404)(scope, receive, send)
            return
        refused = await self.auth.check_viewer(scope)
        if refused is not None:
            await JSONResponse({"error": refused[1]}, status_code=refused[0])(scope, receive, send)
            return
        if scope.get("method") not in ("GET", "HEAD"):
            await JSONResponse({"error": "method not allowed"}, status_code=405)(scope, receive, send)
            return
        if path == "/metrics":
            from gateway.metrics import CONTENT_TYPE, render

            await Response(render(self.rt), media_type=CONTENT_TYPE)(scope, receive, send)
            return
        await self.status_page.respond(path)(scope, receive, send)
