"""One account's WebSocket to the Codex backend's Responses endpoint, and what a turn on it must look like.

Codex CLI can speak Responses over a WebSocket (docs/relay.md, "Codex Responses over WebSocket"): one
`{"type": "response.create", ...}` text frame per turn, one JSON text frame per event back. The gateway
relays such a turn to the same transport upstream, `wss://chatgpt.com/backend-api/codex/responses` (the
provider's `api_base` with a ws scheme), with the HTTP relay's edits (custom_providers/codex/shaping.py)
and two differences the transport needs:

- `previous_response_id` is kept: on one connection the backend finds its own responses even with
  `store: false`, and Codex CLI sends later turns as only their new items;
- `generate` (Codex CLI's warm-up, `false`) is kept.

A failed request arrives as an error frame with an HTTP status (`{"type": "error", "status": 429, ...}`).
Before the turn's first event such a frame, or a refused upgrade, becomes the LiteLLM exception of the
same status, so the Router fails over and the gateway hook blocks or refreshes the account exactly as
for an HTTP answer. The socket itself stays open for the next turn.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import httpx
import litellm
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from custom_providers.codex import shaping
from custom_providers.codex.settings import CodexSettings

BETA = "responses_websockets=2026-02-06"
CREATE = "response.create"
TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete", "error"})
RATE_LIMITS = "codex.rate_limits"
PROVIDER = "chatgpt"
_OPEN_TIMEOUT = 30.0
# Statuses of an error frame (or a refused upgrade) that another account may answer differently.
FAILOVER_STATUSES = frozenset({401, 403, 408, 429, 500, 502, 503, 504})


def websocket_url(api_base: str) -> str:
    """`https://chatgpt.com/backend-api/codex` -> `wss://chatgpt.com/backend-api/codex/responses`."""
    base = api_base.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://"):]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://"):]
    return base + "/responses"


def shape_frame(frame: Mapping[str, Any], *, model: str, reasoning: Any,
                settings: CodexSettings) -> tuple[dict[str, Any], dict[str, str]]:
    """The upstream frame for a client's `response.create`, and the tool-name map to undo in events."""
    body = {k: v for k, v in frame.items() if k != "type"}
    body["model"] = model
    if reasoning is not None:
        body["reasoning"] = reasoning
    shaped, short_to_original = shaping.shape_request(body, default_instructions=settings.default_instructions)
    if frame.get("previous_response_id"):
        shaped["previous_response_id"] = frame["previous_response_id"]
    return {"type": CREATE, **shaped}, short_to_original


def handshake_headers(client: Mapping[str, str], forwarded: Mapping[str, str], extra: Mapping[str, str], *,
                      token: str, settings: CodexSettings) -> dict[str, str]:
    """The upgrade's headers: the HTTP relay's (identity, session, `x-codex-*`), the forwarded `x-*`, the
    account's token and `ChatGPT-Account-Id`, and the WebSocket beta."""
    out = shaping.upstream_headers(client, originator=settings.originator, user_agent=settings.user_agent)
    out.update({k.lower(): v for k, v in forwarded.items()})
    out.update({k.lower(): str(v) for k, v in extra.items()})
    out["authorization"] = f"Bearer {token}"
    out["openai-beta"] = BETA
    return out


@dataclass
class Turn:
    """One relayed turn: the frames read so far (sent on in order) and what the tool names map back to."""

    socket: "UpstreamSocket"
    pending: list[str] = field(default_factory=list)
    short_to_original: dict[str, str] = field(default_factory=dict)


class UpstreamSocket:
    """A WebSocket to the Codex backend opened with one account's token (reused for its later turns)."""

    def __init__(self, connection: ClientConnection, account: str) -> None:
        self.connection = connection
        self.account = account
        self.busy = False

    @classmethod
    async def open(cls, url: str, headers: Mapping[str, str], account: str) -> "UpstreamSocket":
        user_agent = headers.get("user-agent")
        rest = {k: v for k, v in headers.items() if k != "user-agent"}
        try:
            connection = await connect(url, additional_headers=rest, user_agent_header=user_agent,
                                       open_timeout=_OPEN_TIMEOUT, max_size=None, compression="deflate")
        except InvalidStatus as exc:
            response = exc.response
            body = bytes(response.body or b"").decode("utf-8", "replace")
            raise upstream_error(response.status_code, body, dict(response.headers.raw_items())) from None
        except (InvalidHandshake, OSError, asyncio.TimeoutError) as exc:
            raise litellm.APIConnectionError(message=f"Could not open the Codex WebSocket: {type(exc).__name__}",
                                             llm_provider=PROVIDER, model="") from None
        return cls(connection, account)

    @property
    def open_(self) -> bool:
        return self.connection.close_code is None

    async def start(self, frame: Mapping[str, Any], short_to_original: dict[str, str]) -> Turn:
        """Send the turn and read up to its first event; a failure before it raises (for failover)."""
        turn = Turn(self, short_to_original=short_to_original)
        try:
            await self.connection.send(json.dumps(frame))
            while True:
                raw = await self.recv()
                event = parse(raw)
                kind = event.get("type")
                if kind == "error" and _status(event) in FAILOVER_STATUSES:
                    raise upstream_error(_status(event), raw, _headers(event))
                turn.pending.append(raw)
                if kind != RATE_LIMITS:
                    return turn
        except ConnectionClosed:
            raise litellm.ServiceUnavailableError(message="The Codex WebSocket closed before the first event.",
                                                  llm_provider=PROVIDER, model="") from None

    async def recv(self) -> str:
        message = await self.connection.recv()
        return message if isinstance(message, str) else message.decode("utf-8", "replace")

    async def close(self) -> None:
        try:
            await self.connection.close()
        except Exception:
            pass


def parse(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def relayed(raw: str, short_to_original: Mapping[str, str]) -> str:
    """The frame for the client: as sent, unless a tool name shortened on the way up must be restored."""
    if not short_to_original:
        return raw
    event = parse(raw)
    if not event:
        return raw
    return json.dumps(shaping.restore_tool_names(event, short_to_original))


def rate_limit_headers(event: Mapping[str, Any]) -> dict[str, str]:
    """A `codex.rate_limits` event as the `x-codex-*` headers an HTTP answer carries (for the usage book)."""
    limits = event.get("rate_limits") if isinstance(event.get("rate_limits"), Mapping) else {}
    out: dict[str, str] = {}
    for name in ("primary", "secondary"):
        window = limits.get(name)
        if not isinstance(window, Mapping) or window.get("used_percent") is None:
            continue
        out[f"x-codex-{name}-used-percent"] = str(window["used_percent"])
        if window.get("window_minutes") is not None:
            out[f"x-codex-{name}-window-minutes"] = str(window["window_minutes"])
        if window.get("reset_at") is not None:
            out[f"x-codex-{name}-reset-at"] = str(window["reset_at"])
    return out


def upstream_error(status: int, body: str, headers: Mapping[str, str]) -> Exception:
    """The LiteLLM exception for an upstream status, carrying body and headers for the failure hook."""
    response = httpx.Response(status, headers=dict(headers), content=body.encode(),
                              request=httpx.Request("GET", "https://chatgpt.com/backend-api/codex/responses"))
    message = _message(body) or f"The Codex backend answered {status}."
    if status == 401:
        return litellm.AuthenticationError(message=message, llm_provider=PROVIDER, model="", response=response)
    if status == 429:
        return litellm.RateLimitError(message=message, llm_provider=PROVIDER, model="", response=response)
    if status >= 500 or status in (403, 408):
        return litellm.ServiceUnavailableError(message=message, llm_provider=PROVIDER, model="", response=response)
    return litellm.BadRequestError(message=message, llm_provider=PROVIDER, model="", response=response)


def _message(body: str) -> str:
    event = parse(body)
    error = event.get("error") if isinstance(event.get("error"), Mapping) else {}
    return str(error.get("message") or event.get("detail") or "")


def _status(event: Mapping[str, Any]) -> int:
    status = event.get("status", event.get("status_code"))
    return int(status) if isinstance(status, (int, float)) else 0


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    headers = event.get("headers")
    return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}


class SocketRelay:
    """What the gateway's WebSocket route asks of the Codex provider (`CodexProvider.websocket_relay`)."""

    def __init__(self, settings: CodexSettings) -> None:
        self.settings = settings

    def url(self, api_base: str | None) -> str:
        return websocket_url(api_base or self.settings.api_base)

    def frame(self, frame: Mapping[str, Any], *, model: str, reasoning: Any) -> tuple[dict[str, Any], dict[str, str]]:
        return shape_frame(frame, model=model, reasoning=reasoning, settings=self.settings)

    def headers(self, client: Mapping[str, str], forwarded: Mapping[str, str], extra: Mapping[str, str], *,
                token: str) -> dict[str, str]:
        return handshake_headers(client, forwarded, extra, token=token, settings=self.settings)

    async def open(self, url: str, headers: Mapping[str, str], account: str) -> UpstreamSocket:
        return await UpstreamSocket.open(url, headers, account)
