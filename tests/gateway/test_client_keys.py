"""gateway.client_keys: every place an SDK puts its key is accepted; refusals come in the caller's dialect."""

from __future__ import annotations

import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from gateway.client_keys import INVALID, MISSING, ClientKeyCheck, authenticate

KEYS = ("sk-gw-1", "sk-gw-2")


def scope(headers: dict[str, str] | None = None, query: str = "") -> Scope:
    return {
        "type": "http",
        "path": "/v1/chat/completions",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "query_string": query.encode(),
    }


@pytest.mark.parametrize(
    "headers, query",
    [
        ({"Authorization": "Bearer sk-gw-1"}, ""),
        ({"Authorization": "bearer   sk-gw-2 "}, ""),
        ({"Authorization": "sk-gw-1"}, ""),  # a bare value also works
        ({"x-api-key": "sk-gw-1"}, ""),  # Claude Code, droid's anthropic provider
        ({"X-Goog-Api-Key": "sk-gw-2"}, ""),
        ({}, "key=sk-gw-1"),
        ({}, "alt=sse&auth_token=sk-gw-2"),
    ],
)
def test_keys_are_accepted_wherever_clients_send_them(headers: dict[str, str], query: str) -> None:
    assert authenticate(scope(headers, query), KEYS) is None


def test_a_valid_key_in_any_header_passes_even_beside_another_token() -> None:
    # e.g. a vendor token in Authorization and the gateway key in x-api-key (reference: every candidate is tried)
    assert authenticate(scope({"Authorization": "Bearer amp-user-token", "x-api-key": "sk-gw-1"}), KEYS) is None
    assert authenticate(scope({"Authorization": "Bearer nope"}, "key=sk-gw-2"), KEYS) is None


def test_missing_and_wrong_keys() -> None:
    assert authenticate(scope(), KEYS) == MISSING == "Missing API key"
    assert authenticate(scope({"x-api-key": "  "}), KEYS) == MISSING
    assert authenticate(scope({}, "key="), KEYS) == MISSING
    assert authenticate(scope({"Authorization": "Bearer sk-gw-3"}), KEYS) == INVALID == "Invalid API key"
    assert authenticate(scope({"x-api-key": "sk-gw-1x"}), KEYS) == INVALID
    assert authenticate(scope({"Authorization": "Bearer "}), KEYS) == INVALID


def test_an_empty_key_list_is_open() -> None:
    assert authenticate(scope(), ()) is None
    assert authenticate(scope({"Authorization": "Bearer dummy-not-used"}), ()) is None


# ---- the ASGI layer --------------------------------------------------------------------------------


class Inner:
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        await JSONResponse({"ok": True})(scope, receive, send)


def client(keys: tuple[str, ...], inner: Inner) -> httpx.AsyncClient:
    app = ClientKeyCheck(inner, lambda: keys, exempt=lambda path: path.startswith("/api/"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_anthropic_callers_get_an_anthropic_401() -> None:
    inner = Inner()
    async with client(KEYS, inner) as http:
        r = await http.post("/v1/messages", json={}, headers={"x-api-key": "wrong"})
    assert r.status_code == 401
    assert r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "authentication_error"
    assert r.json()["error"]["message"] == "Invalid API key"
    assert inner.paths == []


async def test_openai_callers_get_an_openai_401() -> None:
    inner = Inner()
    async with client(KEYS, inner) as http:
        r = await http.post("/v1/chat/completions", json={})
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["message"] == "Missing API key"
    assert err["type"] == "authentication_error" and err["code"] == "invalid_api_key"
    assert inner.paths == []


async def test_valid_keys_exempt_paths_and_open_gateways_reach_the_app() -> None:
    inner = Inner()
    async with client(KEYS, inner) as http:
        assert (await http.post("/v1/messages", json={}, headers={"x-api-key": "sk-gw-2"})).status_code == 200
        assert (await http.get("/v1/models", headers={"Authorization": "Bearer sk-gw-1"})).status_code == 200
        assert (await http.get("/api/user")).status_code == 200
    async with client((), inner) as http:
        assert (await http.post("/v1/chat/completions", json={})).status_code == 200
    assert inner.paths == ["/v1/messages", "/v1/models", "/api/user", "/v1/chat/completions"]


async def test_the_key_list_is_read_per_request() -> None:
    keys: list[tuple[str, ...]] = [()]
    inner = Inner()
    app = ClientKeyCheck(inner, lambda: keys[0], exempt=lambda path: False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        assert (await http.get("/v1/models")).status_code == 200
        keys[0] = ("new",)
        assert (await http.get("/v1/models")).status_code == 401
