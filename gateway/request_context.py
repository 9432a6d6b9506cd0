"""Per-request facts the hook learns and the front layer needs when it writes the client's answer.

LiteLLM renders its own errors (wrapped text, no Retry-After); the hook knows why a request failed
(which model, every account blocked until T, no account logged in). A ContextVar set by the front
layer for each request carries those facts across LiteLLM without touching its code: the request's
handling, streaming included, runs in tasks that inherit this context.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class RequestFacts:
    model: str = ""
    provider: str | None = None
    blocked_until: float | None = None
    no_account: bool = False
    accounts_tried: list[str] = field(default_factory=list)
    session_id: str | None = None
    retry_same: set[str] = field(default_factory=set)
    last_error: Exception | None = None
    upstream_status: int | None = None  # the last upstream error's own status and message (cleaned)
    upstream_message: str = ""
    failure_noted: int = -1  # the attempt (index in accounts_tried) whose failure was recorded


_facts: ContextVar[RequestFacts | None] = ContextVar("subgate_request_facts", default=None)


def begin() -> RequestFacts:
    facts = RequestFacts()
    _facts.set(facts)
    return facts


def current() -> RequestFacts:
    """The facts of the request being handled; a throwaway object outside the front layer."""
    facts = _facts.get()
    if facts is None:
        facts = RequestFacts()
        _facts.set(facts)
    return facts
