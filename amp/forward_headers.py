"""What a request to the Amp upstream carries: the client's headers minus its credentials, plus ours.

The client authenticated to the gateway with a gateway key; that key must never reach ampcode.com, and the
upstream must see the user's Amp secret instead. Forwarding and fingerprint headers are scrubbed too.
The query string is kept byte for byte (`?getUserInfo` must not become `?getUserInfo=`), except `key` /
`auth_token` parameters that carry a gateway client key.
"""

from __future__ import annotations

from typing import Callable, Iterable
from urllib.parse import unquote_plus

from starlette.types import Scope

from amp.http_messages import Headers

CLIENT_CREDENTIALS = (b"authorization", b"x-api-key", b"x-goog-api-key")
SCRUBBED = (
    b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-port", b"x-real-ip",
    b"forwarded", b"via",
    b"x-title", b"x-stainless-lang", b"x-stainless-package-version", b"x-stainless-os", b"x-stainless-arch",
    b"x-stainless-runtime", b"x-stainless-runtime-version", b"http-referer", b"referer",
    b"sec-ch-ua", b"sec-ch-ua-mobile", b"sec-ch-ua-platform", b"sec-fetch-mode", b"sec-fetch-site",
    b"sec-fetch-dest", b"priority",
    b"accept-encoding",
)  # fmt: skip
HOP_BY_HOP = (
    b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate", b"proxy-authorization",
    b"te", b"trailer", b"transfer-encoding", b"upgrade",
)  # fmt: skip
WEBSOCKET_HANDSHAKE = (
    b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions", b"sec-websocket-protocol",
)  # fmt: skip
_QUERY_KEY_PARAMS = ("key", "auth_token")


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    """Headers named in Connection are hop-by-hop for this message only."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return tokens


def upstream_headers(headers: Iterable[tuple[bytes, bytes]], secret: str, *, keep_content_length: bool) -> Headers:
    """Client headers for the upstream; Host comes from the upstream URL, the secret as both auth headers."""
    headers = list(headers)
    drop = {*CLIENT_CREDENTIALS, *SCRUBBED, *HOP_BY_HOP, b"host", *_connection_tokens(headers)}
    if not keep_content_length:
        drop.add(b"content-length")
    out = [(name, value) for name, value in headers if name.lower() not in drop]
    if secret:
        out += [(b"x-api-key", secret.encode()), (b"authorization", b"Bearer " + secret.encode())]
    return out


def upstream_websocket_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Extra headers for the upstream handshake; the WebSocket client builds the handshake ones itself.

    No upstream secret here: the Amp CLI's WebSocket carries its own token in Sec-WebSocket-Protocol.
    """
    headers = list(headers)
    drop = {*CLIENT_CREDENTIALS, *SCRUBBED, *HOP_BY_HOP, *WEBSOCKET_HANDSHAKE, b"host", b"user-agent",
            b"content-length", *_connection_tokens(headers)}  # fmt: skip
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers if n.lower() not in drop]


def strip_client_keys(raw_query: bytes, is_client_key: Callable[[str], bool]) -> bytes:
    """Drop `key=`/`auth_token=` pairs holding a gateway client key; every other byte stays as sent."""
    if not raw_query or not any(p.encode() in raw_query for p in _QUERY_KEY_PARAMS):
        return raw_query
    kept = []
    for pair in raw_query.split(b"&"):
        name, eq, value = pair.partition(b"=")
        if eq and unquote_plus(name.decode("latin-1")) in _QUERY_KEY_PARAMS:
            if is_client_key(unquote_plus(value.decode("utf-8", "replace"))):
                continue
        kept.append(pair)
    return b"&".join(kept)


def client_key_check(scope: Scope, authenticate: Callable[[Scope], str | None]) -> Callable[[str], bool]:
    """A predicate "is this string a valid gateway client key?", asked of the gateway's own check.

    The gateway knows its keys; we only have `authenticate(scope)`. A value counts as a client key when a
    request carrying only `Authorization: Bearer <value>` passes while one with no credential fails (an
    open gateway has no client keys, so nothing is stripped then).
    """

    def probe(value: str | None) -> bool:
        candidate = dict(scope)
        candidate["headers"] = [(b"authorization", b"Bearer " + value.encode())] if value else []
        candidate["query_string"] = b""
        return authenticate(candidate) is None

    open_gateway: bool | None = None

    def is_client_key(value: str) -> bool:
        nonlocal open_gateway
        if not value:
            return False
        if open_gateway is None:
            open_gateway = probe(None)
        return not open_gateway and probe(value)

    return is_client_key
