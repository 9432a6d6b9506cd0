"""HTTP reverse proxy to the Amp upstream, streaming both ways.

Bytes are relayed as they arrive (SSE is flushed chunk by chunk, never buffered); the only body ever held
whole is an unlabelled gzip reply being repaired. The upstream response is closed in a `finally` around
the relay (the httpx#830 trap). A client that goes away cancels the exchange silently; an upstream that
cannot be reached gives the reference 502 body (docs/architecture.md, "Amp").

Content coding: the client's Accept-Encoding is not forwarded; we ask for gzip ourselves. A labelled gzip
reply is passed through still compressed when the client said it accepts gzip, and decoded for clients
that did not -- so every client gets bytes it can read, as with Go's transport in the reference.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Callable

import anyio
import httpx
from starlette.types import Receive, Scope, Send

from amp import gzip_repair
from amp.forward_headers import client_key_check, strip_client_keys, upstream_headers
from amp.http_messages import ClientGone, Headers, header, read_body, send_json, with_header, without_headers
from amp.secret_source import SecretSource
from amp.settings import AmpSettings
from amp.errors import amp_unavailable_body, amp_upstream_error_body

log = logging.getLogger(__name__)

_DROPPED_RESPONSE_HEADERS = (
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te", b"trailer", b"upgrade",
)  # fmt: skip
_CONNECT_TIMEOUT = 30.0
_warned_bad_urls: set[str] = set()


def default_http_client() -> httpx.AsyncClient:
    """No overall or read timeout (threads and SSE can be long), 30 s to connect, redirects passed back."""
    return httpx.AsyncClient(timeout=httpx.Timeout(None, connect=_CONNECT_TIMEOUT), follow_redirects=False)


def upstream_base(settings: AmpSettings) -> httpx.URL | None:
    """The configured upstream, or None when there is none (or it cannot be used: logged once)."""
    raw = settings.upstream_url.strip()
    if not raw:
        return None
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        if raw not in _warned_bad_urls:
            _warned_bad_urls.add(raw)
            log.error("amp: upstream-url %r is not an http(s) URL; Amp management routes answer 503", raw)
        return None
    return url


def upstream_url(base: httpx.URL, scope: Scope, raw_query: bytes) -> httpx.URL:
    """The upstream base path joined with the incoming path, the raw query string unchanged."""
    path = scope.get("raw_path") or scope["path"].encode()
    path = path.split(b"?", 1)[0]
    base_path = base.raw_path.split(b"?", 1)[0].rstrip(b"/")
    raw_path = base_path + path + (b"?" + raw_query if raw_query else b"")
    return base.copy_with(raw_path=raw_path)


def _has_body(scope: Scope) -> bool:
    return header(scope["headers"], b"content-length") is not None or header(scope["headers"], b"transfer-encoding") is not None


def _accepts(accept_encoding: bytes | None, coding: str) -> bool:
    if not accept_encoding:
        return False
    for item in accept_encoding.decode("latin-1").lower().split(","):
        name, _, params = item.strip().partition(";")
        if name.strip() in (coding, "*"):
            q = params.strip()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


class UpstreamProxy:
    def __init__(
        self,
        settings: Callable[[], AmpSettings],
        secret_source: SecretSource,
        authenticate: Callable[[Scope], str | None],
        http_client: httpx.AsyncClient,
    ) -> None:
        self.settings = settings
        self.secret_source = secret_source
        self.authenticate = authenticate
        self.client = http_client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.forward(scope, receive, send)

    async def forward(self, scope: Scope, receive: Receive, send: Send, body: bytes | None = None) -> None:
        """Relay one request; `body` replaces the client's (already read) body when given."""
        base = upstream_base(self.settings())
        if base is None:  # the URL may have been removed since the gate looked
            await send_json(send, 503, amp_unavailable_body())
            return
        if body is None and not _has_body(scope):
            try:  # no body announced: never send a chunked empty body with a GET
                body = await read_body(receive)
            except ClientGone:
                return
        raw_query = strip_client_keys(scope.get("query_string", b""), client_key_check(scope, self.authenticate))
        url = upstream_url(base, scope, raw_query)
        try:
            secret = self.secret_source.get()
        except Exception as exc:  # a broken source must not stop the request; the upstream will say 401
            log.warning("amp: could not resolve the upstream secret (%s); sending no upstream auth", type(exc).__name__)
            secret = ""
        headers = upstream_headers(scope["headers"], secret, keep_content_length=body is None)
        headers.append((b"accept-encoding", b"gzip"))
        body_read = asyncio.Event()
        if body is None:
            content: bytes | AsyncIterator[bytes] = self._request_body(receive, body_read)
        else:
            content = body
            body_read.set()
        request = self.client.build_request(scope["method"], url, headers=headers, content=content)

        with anyio.CancelScope() as cancel_scope:
            watcher = asyncio.create_task(_cancel_on_disconnect(receive, body_read, cancel_scope))
            try:
                await self._exchange(request, scope, send)
            except ClientGone:
                pass
            finally:
                watcher.cancel()

    async def _request_body(self, receive: Receive, done: asyncio.Event) -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                done.set()
                return

    async def _exchange(self, request: httpx.Request, scope: Scope, send: Send) -> None:
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            if isinstance(exc.__cause__ or exc.__context__, ClientGone):
                raise ClientGone() from exc
            log.error("amp: upstream %s %s failed: %s", request.method, request.url.copy_with(query=None), exc)
            await send_json(send, 502, amp_upstream_error_body())
            return
        try:
            await self._relay(response, scope, send)
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()

    async def _relay(self, response: httpx.Response, scope: Scope, send: Send) -> None:
        raw_headers: Headers = [(k.lower(), v) for k, v in response.headers.raw]
        headers = [
            (k, v)
            for k, v in raw_headers
            if k not in _DROPPED_RESPONSE_HEADERS and not k.startswith(b"access-control-allow-")
        ]
        encoding = (header(headers, b"content-encoding") or b"").decode("latin-1").strip().lower()
        content_type = (header(headers, b"content-type") or b"").decode("latin-1")

        if encoding and encoding != "identity":
            if _accepts(header(scope["headers"], b"accept-encoding"), encoding) or encoding not in ("gzip", "deflate"):
                chunks = response.aiter_raw()
            else:
                headers = without_headers(headers, [b"content-encoding", b"content-length"])
                chunks = response.aiter_bytes()
            await _stream(send, response.status_code, headers, chunks)
            return
        if not gzip_repair.should_inspect(None, content_type):
            await _stream(send, response.status_code, headers, response.aiter_raw())
            return
        repaired, chunks = await gzip_repair.repair(response.aiter_raw())
        if repaired is None:
            await _stream(send, response.status_code, headers, chunks)
            return
        headers = without_headers(headers, [b"content-encoding"])
        headers = with_header(headers, b"content-length", str(len(repaired)).encode())
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": repaired, "more_body": False})


async def _stream(send: Send, status: int, headers: Headers, chunks: AsyncIterator[bytes]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    try:
        async for chunk in chunks:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except httpx.HTTPError as exc:
        # Too late for a 502: leave the response incomplete so the server drops the connection and the
        # client sees a cut stream rather than a short body that looks complete.
        log.warning("amp: upstream stream cut mid-response: %s", exc)
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _cancel_on_disconnect(receive: Receive, body_read: asyncio.Event, scope: anyio.CancelScope) -> None:
    """Stop the exchange when the client hangs up (uvicorn silently drops writes to a closed socket)."""
    await body_read.wait()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
