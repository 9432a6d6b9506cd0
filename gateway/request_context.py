"""Per-request facts the hook learns and the front layer needs when it writes the client's answer.

LiteLLM renders its own errors (wrapped text, no Retry-After); the hook knows why a request failed
(which model, every account blocked until T, no account logged in, and how the provider classified
the last failed attempt). A ContextVar set for each request (by the front layer, or by the hook's
proxy-side entry under `litellm --config`) carries those facts across LiteLLM without touching its
code: the request's handling, streaming included, runs in tasks that inherit this context.
`RequestFacts.verdict` is the one reading of them both renderers use (gateway/error_rewrite.py,
`GatewayHook.async_post_call_failure_hook` in gateway/hook.py).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from custom_providers.provider import Failure


@dataclass(frozen=True)
class Verdict:
    """Why the request failed, for the renderer: the status to answer and what kind of failure it was.
    "unclassified" means no provider classified it (a client mistake LiteLLM refused before any call,
    an API-key deployment): the status is then LiteLLM's own."""

    status: int
    kind: Literal["no_account", "quota", "auth", "other", "unclassified"]
    reset_at: float | None = None


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
    failure: Failure | None = None  # the provider's classification of the last failed attempt

    def verdict(self, litellm_status: int) -> Verdict:
        """The request's failure as the hook classified it; LiteLLM's status only when nothing did."""
        if self.no_account:
            return Verdict(503, "no_account")
        if self.blocked_until is not None:  # every account of the pool is blocked (the hook's filter)
            return Verdict(429, "quota", self.blocked_until)
        if self.failure is None:
            return Verdict(litellm_status, "unclassified")
        if self.failure.kind == "quota":
            return Verdict(429, "quota", self.failure.reset_at)
        return Verdict(self.upstream_status or litellm_status, self.failure.kind)


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
