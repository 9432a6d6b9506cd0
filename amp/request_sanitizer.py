"""Clean the conversation history Amp echoes back before anyone (local or upstream) sees it.

Amp replays earlier assistant turns verbatim. Thinking blocks without a real signature, and the empty
`signature` we inject into tool_use blocks for Amp's TUI (response_rewriter.py), make Anthropic answer
400 on the next turn (specs/amp.md §5.5). Bodies are re-serialized only when something was removed.
"""

from __future__ import annotations

import json
from typing import Any


def _valid_signature(block: dict) -> bool:
    signature = block.get("signature")
    return isinstance(signature, str) and signature.strip() != ""


def _clean_content(content: list[Any]) -> tuple[list[Any], bool]:
    kept: list[Any] = []
    changed = False
    for block in content:
        if isinstance(block, dict) and block.get("type") == "thinking" and not _valid_signature(block):
            changed = True
            continue
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


def sanitize_request_body(body: bytes) -> bytes:
    """The body with invalid thinking blocks and tool_use signatures removed; otherwise byte-identical."""
    try:
        request = json.loads(body)
    except ValueError:
        return body
    if not isinstance(request, dict) or not sanitize_request(request):
        return body
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
