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
import tomllib
from dataclasses import replace
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.account_view import account_view
from gateway.config_file import hash_secret_in_file
from gateway.management_auth import ManagementAuth, hash_secret, is_bcrypt_hash
from gateway.management_oauth import LoginSessions, SessionError
from gateway.management_settings import amp_setting, amp_view, api_keys
from gateway.routing import MethodRoute

log = logging.getLogger("subgate.management")

PREFIX = "/v0/management"
MAX_BODY = 1_000_000
_BODY = "subgate.management_body"  # the JSON body, read once before routing


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


Handler = Callable[[Request, Any], Awaitable[tuple[int, Any]]]


class ManagementApi:
    """Auth, then the body read once, then the routes below (one Starlette route per operation)."""

    def __init__(self, rt: Any, auth: ManagementAuth) -> None:
        self.rt = rt
        self.auth = auth
        self.logins = LoginSessions(rt)
        self.router = Router(routes=[
            self._route("/accounts", self._accounts, ["GET"]),
            self._route("/accounts/{ident}", self._account, ["GET", "DELETE", "PATCH"]),
            self._route("/accounts/{ident}/disable", self._account, ["POST"]),
            self._route("/accounts/{ident}/enable", self._account, ["POST"]),
            self._route("/usage", self._usage, ["GET"]),
            self._route("/{provider}-auth-url", self._auth_url, ["GET"]),
            self._route("/oauth-callback", self._oauth_callback, ["POST"]),
            self._route("/get-auth-status", self._auth_status, ["GET"]),
            self._route("/oauth-session", self._cancel_login, ["DELETE"]),
            self._route("/ampcode", self._ampcode, ["GET"]),
            self._route("/ampcode/{setting}", self._amp_setting, ["GET", "PUT", "PATCH", "DELETE"]),
            self._route("/api-keys", self._api_keys, ["GET", "PUT", "PATCH", "DELETE", "POST"]),
        ], redirect_slashes=False, default=self._json(404, {"error": "not found"}))

    def _json(self, status: int, body: Any) -> Response:
        return JSONResponse(body, status_code=status, headers={"X-CPA-VERSION": subgate_version()})

    def _route(self, path: str, handler: Handler, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            status, payload = await handler(request, request.scope.get(_BODY))
            return self._json(status, payload)

        return MethodRoute(PREFIX + path, endpoint, methods=methods)  # another method: 404, as the reference

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = await self.auth.check_management(scope)
        if refused is not None:
            status, message = refused
            await self._json(status, {"error": message})(scope, receive, send)
            return
        body = None
        if scope.get("method", "GET") in ("POST", "PUT", "PATCH", "DELETE"):
            ok, body = await _read_json(receive)
            if not ok:
                await self._json(400, {"error": "invalid body"})(scope, receive, send)
                return
        sub = scope.get("path", "")[len(PREFIX):].strip("/")
        await self.router({**scope, "path": f"{PREFIX}/{sub}", _BODY: body}, receive, send)

    # ---- accounts and usage ----------------------------------------------------------------------
    async def _accounts(self, request: Request, body: Any) -> tuple[int, Any]:
        return 200, {"accounts": [account_view(self.rt, a) for a in self.rt.store.accounts()]}

    async def _usage(self, request: Request, body: Any) -> tuple[int, Any]:
        usage = self.rt.usage_view()
        return 200, {"usage": usage.as_dict(), "models": {m: t.as_dict() for m, t in usage.by_model().items()}}

    async def _account(self, request: Request, body: Any) -> tuple[int, Any]:
        rt, method = self.rt, request.method
        ident = request.path_params["ident"]
        action = request.url.path.rsplit("/", 1)[-1] if method == "POST" else None
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
        if action is not None:
            disabled = action == "disable"
        elif isinstance(body, dict) and isinstance(body.get("disabled"), bool):
            disabled = body["disabled"]
        else:
            return 400, {"error": "invalid body"}
        rt.store.update_fields(acct, {"disabled": disabled})
        log.info("management: account %s %s %s", acct.provider, acct.email, "disabled" if disabled else "enabled")
        return 200, {"status": "ok"}

    # ---- logins ----------------------------------------------------------------------------------
    async def _auth_url(self, request: Request, body: Any) -> tuple[int, Any]:
        provider = self.rt.providers.named(request.path_params["provider"])
        if provider is None:
            return 404, {"error": "not found"}
        return 200, await self.logins.start(provider.name)

    async def _oauth_callback(self, request: Request, body: Any) -> tuple[int, Any]:
        try:
            return 200, await self.logins.finish(body if isinstance(body, dict) else {})
        except SessionError as exc:
            return exc.status, {"status": "error", "error": str(exc)}

    async def _auth_status(self, request: Request, body: Any) -> tuple[int, Any]:
        return 200, await self.logins.status(request.query_params.get("state", ""))

    async def _cancel_login(self, request: Request, body: Any) -> tuple[int, Any]:
        found = await self.logins.cancel(request.query_params.get("state", ""))
        return (200, {"status": "ok"}) if found else (404, {"error": "unknown or expired state"})

    # ---- settings --------------------------------------------------------------------------------
    async def _ampcode(self, request: Request, body: Any) -> tuple[int, Any]:
        return 200, {"ampcode": amp_view(self.rt)}

    async def _amp_setting(self, request: Request, body: Any) -> tuple[int, Any]:
        return amp_setting(self.rt, request.method, request.path_params["setting"], body)

    async def _api_keys(self, request: Request, body: Any) -> tuple[int, Any]:
        return api_keys(self.rt, request.method, body, dict(request.query_params))


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
