"""Undo, in the conversation history Amp echoes back, what the gateway added to its replies for Amp.

The response rewriter (amp/response_rewriter.py) gives tool_use blocks `"signature": ""` because Amp's
TUI reads `signature.length`; Anthropic refuses a tool_use block with that extra field, so it is removed
before anyone (local or upstream) sees the request. Rules of the backends themselves (unsigned thinking
blocks, betas a subscription cannot use) are applied by the provider the request is routed to, as for
any other client.
"""

from __future__ import annotations

from typing import Any


def _clean_content(content: list[Any]) -> tuple[list[Any], bool]:
    kept: list[Any] = []
    changed = False
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_use" and "signature" in block:
            block = {k: v for k, v in block.items() if k != "signature"}
            changed = True
        kept.append(block)
    return kept, changed


def sanitize_request(request: dict) -> bool:
    """Clean `request` in place; True when something changed."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        return False
    changed = False
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, list):
            message["content"], did_change = _clean_content(content)
            changed = changed or did_change
    return changed
