"""Making a request acceptable for a Claude subscription (OAuth) token.

Anthropic serves subscription tokens only for Claude-Code-shaped requests: a system block that starts
with the Claude Code (or Agent SDK) identity line, the oauth beta, a Claude Code user agent. Claude
Code's own first system block is a billing header and its identity is the second block, so the test
is "no block starts with an identity line" — and the identity is prepended, never substituted: the
caller's own system prompt is kept whole. The 1M-context beta is not available to subscription
tokens, so it is removed rather than letting every Claude Code request fail.
"""

from __future__ import annotations

from typing import Any

CLAUDE_CODE_IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."
IDENTITY_PREFIXES = (
    "You are Claude Code, Anthropic's official CLI for Claude",
    "You are a Claude agent, built on Anthropic's Claude Agent SDK",
)
OAUTH_BETA = "oauth-2025-04-20"
OAUTH_UNSUPPORTED_BETAS = frozenset({"context-1m-2025-08-07"})


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict) and block.get("type", "text") == "text":
        return str(block.get("text") or "")
    return ""


def has_identity(system: Any) -> bool:
    if system is None:
        return False
    blocks = system if isinstance(system, list) else [system]
    return any(_block_text(b).lstrip().startswith(IDENTITY_PREFIXES) for b in blocks)


def with_identity(system: Any) -> Any:
    """The Messages `system` field with the identity block in front, unless one is there already."""
    if has_identity(system):
        return system
    identity = {"type": "text", "text": CLAUDE_CODE_IDENTITY}
    if system is None or system == "" or system == []:
        return [identity]
    if isinstance(system, str):
        return [identity, {"type": "text", "text": system}]
    if isinstance(system, list):
        return [identity, *system]
    return system


def with_identity_messages(messages: list[Any]) -> list[Any]:
    """Chat-completions form: a leading system message, unless a system message already has one."""
    systems = []
    for m in messages:
        if isinstance(m, dict) and m.get("role") in ("system", "developer"):
            content = m.get("content")
            systems.extend(content if isinstance(content, list) else [content])
    if has_identity(systems):
        return messages
    return [{"role": "system", "content": CLAUDE_CODE_IDENTITY}, *messages]


def strip_betas(value: str | None, drop: frozenset[str] = OAUTH_UNSUPPORTED_BETAS) -> str:
    items = [b.strip() for b in (value or "").split(",")]
    return ",".join(b for b in items if b and b not in drop)


def _strip_beta_headers(headers: Any) -> None:
    if not isinstance(headers, dict):
        return
    for key in list(headers):
        if key.lower() == "anthropic-beta":
            cleaned = strip_betas(headers[key])
            if cleaned:
                headers[key] = cleaned
            else:
                del headers[key]


def _signed(block: dict) -> bool:
    signature = block.get("signature")
    return isinstance(signature, str) and signature.strip() != ""


def drop_unsigned_thinking(messages: Any) -> None:
    """Remove thinking blocks without a real signature from replayed assistant turns (in place).

    Anthropic refuses a history whose thinking block lost its signature (400 "Invalid signature in
    thinking block"); clients that render thinking (Amp's TUI needs `"signature": ""`) send them back
    that way, and the block carries nothing the model needs without its signature.
    """
    if not isinstance(messages, list):
        return
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, list):
            message["content"] = [
                b for b in content if not (isinstance(b, dict) and b.get("type") == "thinking" and not _signed(b))
            ]


# reasoning_effort -> thinking budget (CLIProxyAPI's table); max_tokens must stay above the budget.
EFFORT_BUDGETS = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}
MAX_TOKENS_HEADROOM = 4096


def effort_to_thinking(kwargs: dict[str, Any]) -> None:
    """Chat callers' reasoning_effort as an explicit thinking budget that the upstream accepts."""
    effort = kwargs.pop("reasoning_effort", None)
    if not effort or kwargs.get("thinking"):
        return
    effort = str(effort).lower()
    if effort == "none":
        return
    budget = EFFORT_BUDGETS.get(effort, EFFORT_BUDGETS["medium"])
    kwargs["thinking"] = {"type": "enabled", "budget_tokens": budget}
    max_tokens = kwargs.get("max_tokens") or kwargs.get("max_completion_tokens")
    if not isinstance(max_tokens, int) or max_tokens <= budget:
        kwargs["max_tokens"] = budget + MAX_TOKENS_HEADROOM
        kwargs.pop("max_completion_tokens", None)


def prepare_call(kwargs: dict[str, Any], call_type: str, *, access_token: str, user_agent: str) -> None:
    """Per attempt, after the router picked a Claude account (called from the gateway's hook)."""
    kwargs["api_key"] = access_token
    extra = dict(kwargs.get("extra_headers") or {})
    extra.setdefault("User-Agent", user_agent)
    extra.setdefault("x-app", "cli")
    kwargs["extra_headers"] = extra
    _strip_beta_headers(kwargs.get("headers"))
    _strip_beta_headers(kwargs.get("extra_headers"))
    psh = kwargs.get("provider_specific_header")
    if isinstance(psh, dict):
        _strip_beta_headers(psh.get("extra_headers"))
    drop_unsigned_thinking(kwargs.get("messages"))
    if "anthropic_messages" in call_type:
        kwargs["system"] = with_identity(kwargs.get("system"))
    elif isinstance(kwargs.get("messages"), list):
        kwargs["messages"] = with_identity_messages(kwargs["messages"])
        effort_to_thinking(kwargs)
