"""The model routes of `python -m gateway.amp`, answered by calling LiteLLM's Router directly.

    POST /v1/chat/completions  -> Router.acompletion          (OpenAI chat, SSE `data:` chunks)
    POST /v1/responses         -> Router.aresponses           (OpenAI Responses; a Codex pool's SSE relayed as sent)
    POST /v1/messages          -> Router.aanthropic_messages  (Anthropic Messages, SSE relayed as sent)
    POST /v1/completions       -> Router.atext_completion

The Router still chooses the deployment (the account), retries, fails over and translates between
dialects, and calls the hook's deployment-level methods itself (async_filter_deployments,
async_pre_call_deployment_hook, the failure/success deployment hooks, success logging). What LiteLLM's
proxy server would add around it is done here, in the gateway's own words and nothing more:
- the call's data: the client's headers (without its key) as `proxy_server_request.headers` and
  `(litellm_)metadata.headers`, the forwardable `x-*` / `anthropic-beta` headers as `headers` when the
  YAML's `general_settings.forward_client_headers_to_llm_api` is on, a call id and the session id,
  so providers see the same request on both entry points (custom_providers/codex/litellm_adapter.py);
- the proxy-side hook: `async_pre_call_hook` of each callback, before the Router is called;
- the answer: JSON, or SSE frames as the proxy writes them; the first chunk of a stream is awaited
  before the status line, so a failure before the first byte is a plain error status;
- errors as an OpenAI-shaped body with LiteLLM's status; gateway/error_rewrite.py (outside this app)
  answers with the status the hook's classification gives (gateway/request_context.py, `verdict`),
  in the caller's dialect with Retry-After, as it does for every route.
Time spent waiting for the upstream is reported to the access log (gateway/request_log.py), which
turns it into `x-subgate-overhead-ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping

import orjson
from starlette.types import Message, Receive, Scope, Send

from gateway import request_log, request_shape
from gateway.errors import dialect_for_path, error_body, openai_error_type
from gateway.session import session_id

import litellm  # noqa: E402  (gateway.request_shape -> nothing; litellm_app set the flags via router_setup)
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402


@dataclass(frozen=True)
class Route:
    method: str  # the Router's method
    call_type: str  # what the proxy hands async_pre_call_hook
    metadata_key: str  # where LiteLLM reads this call type's metadata


CHAT = Route("acompletion", "completion", "metadata")
RESPONSES = Route("aresponses", "aresponses", "litellm_metadata")
MESSAGES = Route("aanthropic_messages", "anthropic_messages", "litellm_metadata")
COMPLETIONS = Route("atext_completion", "text_completion", "metadata")
ROUTES: dict[str, Route] = {
    **{p: CHAT for p in request_shape.CHAT_PATHS},
    **{p: RESPONSES for p in request_shape.RESPONSES_PATHS},
    **{p: MESSAGES for p in request_shape.MESSAGES_PATHS},
    **{p: COMPLETIONS for p in request_shape.COMPLETIONS_PATHS},
}

# The client's own credentials never travel further (the proxy drops them the same way).
_CREDENTIAL_HEADERS = frozenset({
    "authorization", "x-api-key", "api-key", "x-goog-api-key", "x-litellm-api-key", "proxy-authorization", "cookie",
})
_DONE = b"data: [DONE]\n\n"
_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no")]


def client_headers(scope: Scope) -> dict[str, str]:
    """The request's headers, lower-cased, without the caller's credentials."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").lower()
        if name not in _CREDENTIAL_HEADERS:
            out[name] = raw_value.decode("latin-1")
    return out


def forwardable(headers: Mapping[str, str]) -> dict[str, str]:
    """What the proxy forwards with `forward_client_headers_to_llm_api`: `x-*` (not `x-stainless-*`)
    and `anthropic-beta`."""
    return {k: v for k, v in headers.items()
            if (k.startswith("x-") and not k.startswith("x-stainless")) or k.startswith("anthropic-beta")}


def call_data(route: Route, body: dict[str, Any], headers: dict[str, str], url: str, *, forward: bool) -> dict[str, Any]:
    """The Router call's keyword arguments: the client's body plus what the proxy would attach."""
    data = dict(body)
    data["proxy_server_request"] = {"url": url, "method": "POST", "headers": headers, "body": body}
    metadata: dict[str, Any] = {"headers": headers}
    if route.metadata_key == "metadata" and isinstance(body.get("metadata"), dict):
        metadata["requester_metadata"] = body["metadata"]
    data[route.metadata_key] = metadata
    if forward:
        extra = forwardable(headers)
        if extra:
            data["headers"] = extra
    data["litellm_call_id"] = str(uuid.uuid4())
    session = session_id(headers, body)
    if session:
        data["litellm_session_id"] = session
        metadata["session_id"] = session
    return data


async def run_pre_call_hooks(data: dict[str, Any], call_type: str) -> dict[str, Any]:
    """The proxy-side hook: each callback's async_pre_call_hook, in order, before routing."""
    for callback in litellm.callbacks:
        if isinstance(callback, CustomLogger) and (
            type(callback).async_pre_call_hook is not CustomLogger.async_pre_call_hook
        ):
            changed = await callback.async_pre_call_hook(None, None, data, call_type)
            if isinstance(changed, dict):
                data = changed
    return data


def upstream_ms(metadata: Mapping[str, Any]) -> float:
    """Time LiteLLM spent inside upstream HTTP calls, every attempt (its `llm_api_timing_windows`)."""
    windows = metadata.get("llm_api_timing_windows") or ()
    return sum(max(0.0, float(end) - float(start)) for start, end in windows) * 1000.0


class ModelRoutes:
    """Pure ASGI app for the model routes; `router` returns the Router to call (None until start-up)."""

    def __init__(self, router: Any, *, forward_headers: bool) -> None:
        self.router = router
        self.forward_headers = forward_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        route = ROUTES.get(path)
        if route is None or scope.get("method") != "POST":
            body = error_body(dialect_for_path(path), 404, f"No route {scope.get('method')} {path} on this gateway.",
                              code="not_found")
            await _send_json(send, 404, body)
            return
        body = await _body(scope, receive)
        if body is None:
            await _send_json(send, 400, error_body(dialect_for_path(path), 400, "The request body is not a JSON object."))
            return
        headers = client_headers(scope)
        url = f"http://{headers.get('host', 'localhost')}{path}"
        data = call_data(route, body, headers, url, forward=self.forward_headers)
        metadata = data[route.metadata_key]
        requested = str(body.get("model") or "")
        try:
            data = await run_pre_call_hooks(data, route.call_type)
            response = await getattr(self.router(), route.method)(**data)
        except Exception as exc:
            request_log.note_upstream_ms(upstream_ms(metadata))
            await _send_error(send, exc)
            return
        if _is_stream(response):
            await self._stream(send, receive, route, response, metadata, requested)
            return
        request_log.note_upstream_ms(upstream_ms(metadata))
        await _send_json(send, 200, _payload(response, requested), _upstream_headers(response))

    async def _stream(self, send: Send, receive: Receive, route: Route, stream: Any, metadata: Mapping[str, Any],
                      requested: str) -> None:
        iterator: AsyncIterator[Any] = stream.__aiter__()
        waited = time.perf_counter()
        try:
            first = await iterator.__anext__()
        except StopAsyncIteration:
            first = None
        except Exception as exc:
            request_log.note_upstream_ms(upstream_ms(metadata) + (time.perf_counter() - waited) * 1000.0)
            await _send_error(send, exc)
            await _close(stream)
            return
        request_log.note_upstream_ms(upstream_ms(metadata) + (time.perf_counter() - waited) * 1000.0)
        await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *_upstream_headers(stream)]})
        # A client that hangs up ends the upstream call too (Claude Code's Esc, a closed tab): the relay
        # runs as a task that is cancelled when the disconnect arrives.
        pump = asyncio.ensure_future(_relay(send, route, iterator, first, _frame_writer(route, requested)))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((pump, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, gone):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            await _close(stream)
        if pump.done() and not pump.cancelled():
            pump.result()


async def _relay(send: Send, route: Route, iterator: AsyncIterator[Any], first: Any, frame: Any) -> None:
    # A provider that relays the upstream's stream yields its events as bytes (docs/relay.md): they end
    # as the upstream ended them, with no `data: [DONE]` of ours after them.
    relayed = route is MESSAGES or isinstance(first, bytes)
    try:
        if first is not None:
            await send({"type": "http.response.body", "body": frame(first), "more_body": True})
            async for chunk in iterator:
                await send({"type": "http.response.body", "body": frame(chunk), "more_body": True})
        tail = b"" if relayed else _DONE
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        tail = _stream_error(route, exc)
        if relayed and tail.endswith(_DONE):
            tail = tail[: -len(_DONE)]
    await send({"type": "http.response.body", "body": tail})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# ---- request -------------------------------------------------------------------------------------


async def _body(scope: Scope, receive: Receive) -> dict[str, Any] | None:
    parsed = scope.get("parsed_body")  # set by gateway/local_routes.py after its shape check
    if isinstance(parsed, tuple) and len(parsed) == 2 and isinstance(parsed[1], dict):
        return parsed[1]
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body") or message["type"] == "http.disconnect":
            break
    try:
        body = orjson.loads(b"".join(chunks) or b"null")
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


# ---- answers -------------------------------------------------------------------------------------


def _is_stream(response: Any) -> bool:
    return hasattr(response, "__aiter__") and not isinstance(response, (dict, bytes, str))


def _upstream_headers(response: Any) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers as LiteLLM hands them on (`llm_provider-*`: rate-limit state,
    request ids), which the proxy also adds to its answers."""
    hidden = getattr(response, "_hidden_params", None)
    extra = hidden.get("additional_headers") if isinstance(hidden, dict) else None
    if not isinstance(extra, dict):
        return []
    return [(str(k).lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in extra.items()
            if v is not None and str(k).lower().startswith("llm_provider-")]


def _payload(response: Any, requested: str) -> bytes:
    if isinstance(response, dict):
        if requested and "model" in response:
            response = {**response, "model": requested}
        return orjson.dumps(response)
    if requested and getattr(response, "model", None) is not None:
        response.model = requested
    dumped = response.model_dump(mode="json")
    if isinstance(dumped, dict):
        dumped.pop("_hidden_params", None)
    return orjson.dumps(dumped)


def _frame_writer(route: Route, requested: str) -> Any:
    if route is MESSAGES:
        def relay(chunk: Any) -> bytes:
            if isinstance(chunk, bytes):
                return chunk
            if isinstance(chunk, str):
                return chunk.encode()
            return b"data: " + orjson.dumps(chunk) + b"\n\n"
        return relay

    def data_frame(chunk: Any) -> bytes:
        if isinstance(chunk, bytes):
            return chunk if chunk.startswith((b"data:", b"event:", b":")) else b"data: " + chunk + b"\n\n"
        if route is CHAT and requested and getattr(chunk, "model", None):
            chunk.model = requested
        return b"data: " + chunk.model_dump_json(exclude_none=True, exclude_unset=True).encode() + b"\n\n"
    return data_frame


def _error_parts(exc: BaseException) -> tuple[int, str]:
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or status < 400:
        status = 500
    return status, str(getattr(exc, "message", None) or exc)


def _stream_error(route: Route, exc: BaseException) -> bytes:
    status, message = _error_parts(exc)
    if route is MESSAGES:
        err = error_body("anthropic", status, message)
        return b"event: error\ndata: " + orjson.dumps(err) + b"\n\n"
    if route is RESPONSES:
        failed = {"type": "response.failed", "response": {
            "id": f"resp_{uuid.uuid4().hex}", "object": "response", "created_at": int(time.time()), "status": "failed",
            "output": [], "error": {"code": "server_error" if status >= 500 else str(status), "message": message}}}
        return b"data: " + orjson.dumps(failed) + b"\n\n" + _DONE
    err = {"message": message, "type": openai_error_type(status), "param": None, "code": str(status)}
    return b"data: " + orjson.dumps({"error": err}) + b"\n\n"


async def _send_error(send: Send, exc: BaseException) -> None:
    status, message = _error_parts(exc)
    body = {"error": {"message": message, "type": openai_error_type(status), "param": None, "code": str(status)}}
    await _send_json(send, status, body)


async def _send_json(send: Send, status: int, body: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    start: Message = {"type": "http.response.start", "status": status,
                      "headers": [*_JSON, (b"content-length", str(len(payload)).encode()), *(extra or ())]}
    await send(start)
    await send({"type": "http.response.body", "body": payload})


async def _close(stream: Any) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            pass
