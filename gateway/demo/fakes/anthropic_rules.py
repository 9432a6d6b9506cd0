"""The request rules the real Messages API enforces, as far as the gateway can break them.

Each rule here is one the gateway could plausibly violate while translating or rewriting a request
(docs/architecture.md, "Claude shaping"): a dropped thinking signature, an orphaned tool call, a missing Claude Code
identity on a subscription token, the 1M-context beta on an OAuth account. The messages copy the real
ones so tests can also check that the gateway passes them through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.demo.fakes.anthropic_errors import ApiError, invalid
from gateway.demo.fakes.anthropic_replies import Signer

IDENTITY_PREFIXES = (
    "You are Claude Code, Anthropic's official CLI for Claude.",
    "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
)
IDENTITY_REFUSAL = (
    "This credential is only authorized for use with Claude Code and cannot be used for other API requests."
)
LONG_CONTEXT_BETA = "context-1m-2025-08-07"
LONG_CONTEXT_REFUSAL = "The long context beta is not yet available for this subscription."
_VERSION = re.compile(r"^20[2-9][0-9]-[01][0-9]-[0-3][0-9]$")  # SDK 2.x already sends 2026-10-21
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_THINKING_DOCS = "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


def check_version(version: str | None) -> None:
    if not version:
        raise invalid("anthropic-version: header is required")
    if not _VERSION.match(version) or version < "2023-01-01":
        raise invalid(f'anthropic-version: "{version}" is not a valid version')


def check_required(body: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary or object to extract fields from")
    for name in fields:
        if name not in body:
            raise invalid(f"{name}: Field required")
    model = body["model"]
    if not isinstance(model, str) or not model.startswith("claude-"):
        raise ApiError(404, f"model: {model}")
    if not isinstance(body["messages"], list):
        raise invalid("messages: Input should be a valid list")
    return body


def check_messages_request(body: Any, *, oauth: bool, require_identity: bool, betas: set[str],
                           signer: Signer) -> dict[str, Any]:
    """Raise ApiError for the first rule `body` breaks, in roughly the order the real API checks."""
    body = check_required(body, ("model", "max_tokens", "messages"))
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise invalid("max_tokens: Input should be greater than or equal to 1")
    _check_thinking(body)
    _check_tools(body)
    _check_system(body.get("system"), oauth=oauth, require_identity=require_identity)
    if oauth and LONG_CONTEXT_BETA in betas:
        raise invalid(LONG_CONTEXT_REFUSAL)
    _check_messages(body, signer)
    _check_cache_control(body)
    return body


def _check_thinking(body: dict[str, Any]) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "disabled", "adaptive"):
        raise invalid(f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected "
                      "tags: 'adaptive', 'disabled', 'enabled'")
    if kind == "disabled":
        return
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int):
            raise invalid("thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if budget >= body["max_tokens"]:
            raise invalid(f"`max_tokens` must be greater than `thinking.budget_tokens`. {_THINKING_DOCS}")
    if body.get("temperature") not in (None, 1, 1.0):
        raise invalid(f"`temperature` may only be set to 1 when thinking is enabled. {_THINKING_DOCS}")
    if body.get("top_k") is not None:
        raise invalid(f"`top_k` cannot be set when thinking is enabled. {_THINKING_DOCS}")
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid(f"tools.{i}: Input should be a valid dictionary")
        if tool.get("type") not in (None, "custom"):
            continue  # server tools (web_search_…, bash_…) carry no schema
        if not _TOOL_NAME.match(str(tool.get("name", ""))):
            raise invalid(f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        if "input_schema" not in tool:
            raise invalid(f"tools.{i}.custom.input_schema: Field required")


def _check_system(system: Any, *, oauth: bool, require_identity: bool) -> None:
    if system is None:
        texts: list[str] = []
    elif isinstance(system, str):
        texts = [system]
    elif isinstance(system, list):
        texts = []
        for i, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise invalid(f"system.{i}: Input should be a valid text block")
            texts.append(block["text"])
    else:
        raise invalid("system: Input should be a valid string or list")
    if oauth and require_identity and not any(t.startswith(IDENTITY_PREFIXES) for t in texts):
        raise invalid(IDENTITY_REFUSAL)


def _check_messages(body: dict[str, Any], signer: Signer) -> None:
    messages = body["messages"]
    if not messages:
        raise invalid("messages: at least one message is required")
    last = len(messages) - 1
    for n, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant", "system"):
            raise invalid(f"messages.{n}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        if content in ("", []) and not (n == last and message["role"] == "assistant"):
            raise invalid(f"messages.{n}: all messages must have non-empty content except for the optional "
                          "final assistant message")
        if isinstance(content, list):
            _check_blocks(n, message["role"], content, signer)
    _check_tool_pairs(messages)
    if (body.get("thinking") or {}).get("type") == "enabled":
        _check_final_assistant_thinking(messages)


def _check_blocks(n: int, role: str, blocks: list[Any], signer: Signer) -> None:
    for m, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        where = f"messages.{n}.content.{m}"
        if kind is None:
            raise invalid(f"{where}.type: Field required")
        if kind == "text" and not block.get("text"):
            raise invalid("messages: text content blocks must be non-empty")
        if kind in ("thinking", "redacted_thinking", "tool_use") and role != "assistant":
            raise invalid(f"{where}: `{kind}` blocks can only be in `assistant` messages")
        if kind == "thinking":
            if "signature" not in block:
                raise invalid(f"{where}.thinking.signature: Field required")
            if not signer.verify(str(block.get("thinking", "")), str(block["signature"])):
                raise invalid(f"{where}: Invalid signature in thinking block")
        if kind == "redacted_thinking" and not signer.known_redacted(str(block.get("data", ""))):
            raise invalid(f"{where}: Invalid data in redacted_thinking block")


def _ids(content: Any, kind: str, key: str) -> list[str]:
    if not isinstance(content, list):
        return []
    return [str(b.get(key)) for b in content if isinstance(b, dict) and b.get("type") == kind]


def _check_tool_pairs(messages: list[dict[str, Any]]) -> None:
    for n, message in enumerate(messages):
        if message["role"] == "user":
            previous = messages[n - 1] if n > 0 and messages[n - 1]["role"] == "assistant" else {}
            offered = set(_ids(previous.get("content"), "tool_use", "id"))
            for m, block in enumerate(message["content"] if isinstance(message["content"], list) else []):
                if isinstance(block, dict) and block.get("type") == "tool_result" \
                        and block.get("tool_use_id") not in offered:
                    raise invalid(f"messages.{n}.content.{m}: unexpected `tool_use_id` found in `tool_result` "
                                  f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                                  "corresponding `tool_use` block in the previous message.")
        if message["role"] != "assistant" or n == len(messages) - 1:
            continue
        used = _ids(message.get("content"), "tool_use", "id")
        answered = set(_ids(messages[n + 1].get("content"), "tool_result", "tool_use_id"))
        missing = [i for i in used if i not in answered]
        if missing:
            raise invalid(f"messages.{n}: `tool_use` ids were found without `tool_result` blocks immediately "
                          f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                          "`tool_result` block in the next message.")


def _check_final_assistant_thinking(messages: list[dict[str, Any]]) -> None:
    """With thinking on, the assistant turn whose tool calls are being answered must open with thinking."""
    if not _ids(messages[-1].get("content"), "tool_result", "tool_use_id"):
        return
    n = len(messages) - 2
    if n < 0 or messages[n]["role"] != "assistant":
        return
    content = messages[n].get("content")
    first = content[0].get("type") if isinstance(content, list) and content else "text"
    if first not in ("thinking", "redacted_thinking"):
        raise invalid(f"messages.{n}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                      f"`{first}`. When `thinking` is enabled, a final `assistant` message must start with a "
                      "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
                      "recommend you include thinking blocks from previous turns. To avoid this requirement, "
                      f"disable `thinking`. {_THINKING_DOCS}")


def _check_cache_control(body: dict[str, Any]) -> None:
    count = 0
    for group in (body.get("system"), body.get("tools")):
        if isinstance(group, list):
            count += sum(1 for b in group if isinstance(b, dict) and "cache_control" in b)
    for message in body["messages"]:
        if isinstance(message.get("content"), list):
            count += sum(1 for b in message["content"] if isinstance(b, dict) and "cache_control" in b)
    if count > 4:
        raise invalid(f"A maximum of 4 blocks with cache_control may be provided. Found {count}.")
