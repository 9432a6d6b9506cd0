"""The only edits a Claude subscription relay makes to a client's Messages request.

Same-dialect requests (`/v1/messages` to a Claude pool) are relayed, not re-encoded (docs/relay.md):
the upstream gets the client's JSON and headers with exactly the edits below, and everything else as
sent (unknown top-level fields, `metadata`, unknown content blocks and tool types, unknown
`anthropic-beta` values, `anthropic-version`, session and client headers).

Body:
1. `model`: the upstream model the pool entry maps the client's name to.
2. `system`: the Claude Code identity block prepended when no system block carries it (subscription
   tokens are served only for Claude-Code-shaped requests; the caller's own blocks are kept whole).
7. `messages`: a replayed assistant `thinking` block with an empty signature is removed (Anthropic:
   400 "Invalid signature in thinking block"; Amp's TUI sends them back that way).

Headers:
3. Auth: `authorization: Bearer <the account's token>`; the client's own credentials for the gateway
   (`authorization`, `x-api-key`, `x-goog-api-key`) never leave it.
4. Betas: `oauth-2025-04-20` added; betas a subscription token is refused with removed
   (`context-1m-2025-08-07`: "The long context beta is not yet available for this subscription").
5. Identity: a Claude Code caller (`user-agent: claude-cli/...`) keeps its own `user-agent` and
   `x-app`; any other caller gets the configured Claude Code identity (`gateway.claude.user-agent`,
   `x-app: cli`) and loses its SDK's `x-stainless-*` headers, so the upstream never sees a mix.
6. Transport: hop-by-hop headers, `host`, `content-length` and `accept-encoding` are the HTTP
   client's to set; `anthropic-version` and `content-type` are filled only when absent.
"""

from __future__ import annotations

from typing import Any, Mapping

from custom_providers.claude.shaping import OAUTH_BETA, drop_unsigned_thinking, strip_betas, with_identity

OAUTH_TOKEN_PREFIX = "sk-ant-oat"  # what LiteLLM (and Anthropic) recognise as a subscription token
DEFAULT_VERSION = "2023-06-01"
CLAUDE_CODE_AGENT = "claude-cli/"
CLIENT_CREDENTIALS = frozenset({"authorization", "x-api-key", "x-goog-api-key"})
TRANSPORT = frozenset({
    "host", "content-length", "accept-encoding", "connection", "keep-alive", "transfer-encoding", "te",
    "trailer", "upgrade", "proxy-authorization", "proxy-connection", "expect",
})


def is_subscription_token(token: Any) -> bool:
    return isinstance(token, str) and token.startswith(OAUTH_TOKEN_PREFIX)


def is_claude_code(headers: Mapping[str, str]) -> bool:
    return str(headers.get("user-agent", "")).startswith(CLAUDE_CODE_AGENT)


def relay_body(body: dict[str, Any], *, model: str) -> dict[str, Any]:
    """Edits 1, 2 and 7, on the caller's own (already copied) body."""
    body["model"] = model
    body["system"] = with_identity(body.get("system"))
    drop_unsigned_thinking(body.get("messages"))
    return body


def relay_headers(client: Mapping[str, str], *, token: str, user_agent: str) -> dict[str, str]:
    """Edits 3 to 6, on the caller's headers (names lower-case)."""
    claude_code = is_claude_code(client)
    headers = {
        name: value for name, value in client.items()
        if name not in TRANSPORT and name not in CLIENT_CREDENTIALS
        and (claude_code or not name.startswith("x-stainless-"))
    }
    headers["authorization"] = f"Bearer {token}"
    betas = [b for b in strip_betas(headers.get("anthropic-beta")).split(",") if b]
    headers["anthropic-beta"] = ",".join(betas if OAUTH_BETA in betas else [*betas, OAUTH_BETA])
    if not claude_code:
        headers["user-agent"] = user_agent
        headers["x-app"] = "cli"
    headers.setdefault("anthropic-version", DEFAULT_VERSION)
    headers.setdefault("content-type", "application/json")
    return headers


__all__ = ["is_claude_code", "is_subscription_token", "relay_body", "relay_headers"]
