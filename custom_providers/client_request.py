"""The request a client sent, as it arrived, for the provider handler that relays it.

A same-dialect request (Messages to a Claude pool) is relayed: the upstream gets the client's own JSON
and headers with a short list of edits (docs/relay.md). LiteLLM hands a provider only the fields it
knows (`get_requested_anthropic_messages_optional_param` keeps a fixed list of top-level keys), so
the original is kept beside the call: the front layer of `python -m gateway.amp` records the exact
bytes, and under `litellm --config` the gateway's pre-call hook records the body LiteLLM parsed. A
context variable carries it from there to the provider handler the Router calls, through retries on
other accounts, without any module knowing the other.
"""

from __future__ import annotations

import copy
import json
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

Dialect = Literal["anthropic", "responses", "chat"]


@dataclass
class ClientRequest:
    """One client request: its dialect, headers (lower-case names) and body (raw bytes or parsed)."""

    dialect: Dialect
    headers: Mapping[str, str]
    raw: bytes | None = None
    parsed: dict[str, Any] | None = field(default=None, repr=False)

    def body(self) -> dict[str, Any]:
        """A fresh copy of the client's JSON body, for one upstream attempt to edit."""
        if self.raw is not None:
            value = json.loads(self.raw)
            return value if isinstance(value, dict) else {}
        return copy.deepcopy(self.parsed) if self.parsed is not None else {}


_current: ContextVar[ClientRequest | None] = ContextVar("subgate_client_request", default=None)


def record(request: ClientRequest) -> Token:
    return _current.set(request)


def current() -> ClientRequest | None:
    return _current.get()


def dialect_for_path(path: str) -> Dialect:
    if path.startswith(("/v1/messages", "/messages")):
        return "anthropic"
    if path.endswith("/responses"):
        return "responses"
    return "chat"


__all__ = ["ClientRequest", "Dialect", "current", "dialect_for_path", "record"]
