"""What the fake Anthropic API answers: deterministic content, thinking signatures, SSE events.

Replies depend only on the request, so a test can predict them: a tool call when tools are offered, a
quote of the tool result when one comes back, else a greeting that echoes the user. Thinking blocks are
signed with an HMAC the fake keeps secret, so a gateway that edits, drops or invents a signature is
caught when the conversation is replayed, as the real API catches it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from gateway.demo.fakes.anthropic_errors import random_id

# The real API answers a prompt containing this string with redacted_thinking blocks (documented for
# client testing), so the fake does the same.
REDACTED_THINKING_TRIGGER = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB"
)


@dataclass
class Signer:
    """Issues and checks thinking signatures and redacted_thinking payloads."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _redacted: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sign(self, thinking: str) -> str:
        digest = hmac.new(self.key, thinking.encode(), hashlib.sha256).digest()
        return "EqQBCkgIBhABGAIiQ" + base64.b64encode(digest).decode()

    def verify(self, thinking: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(thinking), signature)

    def issue_redacted(self) -> str:
        data = "EmwKAhgBEgy" + base64.b64encode(secrets.token_bytes(48)).decode()
        with self._lock:
            self._redacted.add(data)
        return data

    def known_redacted(self, data: str) -> bool:
        with self._lock:
            return data in self._redacted


def text_of(content: Any) -> str:
    """The plain text of a message or tool_result content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return " ".join(p for p in parts if p)
    return ""


def _last_user(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message
    return None


def _tool_results(message: dict[str, Any] | None) -> list[dict[str, Any]]:
    if message is None or not isinstance(message.get("content"), list):
        return []
    return [b for b in message["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]


def _placeholder(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(kind, "fake")


def _tool_input(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool.get("input_schema") or {}
    props = schema.get("properties") or {}
    return {name: _placeholder(props.get(name) or {}) for name in schema.get("required") or []}


def _chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "input_schema" in t]
    choice = body.get("tool_choice") or {}
    if not tools or choice.get("type") == "none":
        return None
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), tools[0])
    return tools[0]


def thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def build_message(body: dict[str, Any], signer: Signer, *, input_tokens: int,
                  redacted: bool = False, text_override: str | None = None) -> dict[str, Any]:
    """The complete non-streaming Messages response for a request that passed the rules."""
    model = body["model"]
    messages = body.get("messages") or []
    last_user = _last_user(messages)
    echo = text_of(last_user.get("content")) if last_user else ""
    content: list[dict[str, Any]] = []
    if thinking_on(body):
        if redacted or REDACTED_THINKING_TRIGGER in echo:
            content.append({"type": "redacted_thinking", "data": signer.issue_redacted()})
        thought = f"The user wrote: {echo[:40]}"
        content.append({"type": "thinking", "thinking": thought, "signature": signer.sign(thought)})
    results = _tool_results(last_user)
    tool = None if results else _chosen_tool(body)
    if tool is not None:
        content.append({"type": "tool_use", "id": random_id("toolu_01", 22), "name": tool["name"],
                        "input": _tool_input(tool)})
        stop_reason = "tool_use"
    else:
        if text_override is not None:
            text = text_override
        elif results:
            text = "tool said: " + " | ".join(text_of(r.get("content")) for r in results)
        else:
            text = f"Hello from fake {model}. You said: {echo[:40]}"
        stop_reason = "end_turn"
        if len(text) > 4 * body["max_tokens"]:
            text, stop_reason = text[: 4 * body["max_tokens"]], "max_tokens"
        content.append({"type": "text", "text": text})
    output_chars = sum(len(json.dumps(block)) for block in content)
    return {
        "id": random_id("msg_01", 22),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": max(1, output_chars // 4),
        },
    }


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = block["type"]
    if kind == "thinking":
        yield "content_block_start", {"type": "content_block_start", "index": index,
                                      "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
        for piece in _chunks(block["thinking"], 12):
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "thinking_delta", "thinking": piece}}
        yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                      "delta": {"type": "signature_delta", "signature": block["signature"]}}
    elif kind == "redacted_thinking":
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
    elif kind == "text":
        yield "content_block_start", {"type": "content_block_start", "index": index,
                                      "content_block": {"type": "text", "text": ""}}
        for piece in _chunks(block["text"], 10):
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": piece}}
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
        for piece in [""] + _chunks(json.dumps(block["input"]), 8):
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "input_json_delta", "partial_json": piece}}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def stream_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence the real API streams for `message`, ping after the first block start."""
    start = dict(message, content=[], stop_reason=None, stop_sequence=None,
                 usage=dict(message["usage"], output_tokens=1))
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        for i, event in enumerate(_block_events(index, block)):
            events.append(event)
            if index == 0 and i == 0:
                events.append(("ping", {"type": "ping"}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                     "usage": {"output_tokens": message["usage"]["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def long_stream_events(message: dict[str, Any], count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """A text reply of `count` deltas, each stamped with its send time, for streaming-latency benchmarks.

    A generator so each stamp is taken when the event is actually produced."""
    start = dict(message, content=[], stop_reason=None, usage=dict(message["usage"], output_tokens=1))
    yield "message_start", {"type": "message_start", "message": start}
    yield "content_block_start", {"type": "content_block_start", "index": 0,
                                  "content_block": {"type": "text", "text": ""}}
    yield "ping", {"type": "ping"}
    for n in range(count):
        yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": f"[{n} t={time.time():.6f}]"}}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": {"output_tokens": count * 6}}
    yield "message_stop", {"type": "message_stop"}


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
