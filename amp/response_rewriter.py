"""Make locally served responses look the way Amp expects them (local responses only, never proxied).

- The model name is the one the client asked for (suffix included), even when a mapping served another:
  Amp matches replies to requests by it.
- tool_use and thinking blocks get `"signature":""` when they have none: Amp's TUI reads
  `signature.length` and crashes otherwise.
- Tool names use the casing the request declared (or Amp's built-in names): Amp's allow-list is
  case-sensitive, and a subscription backend may answer `bash` for `Bash`.
- Mapped non-streaming replies with a tool_use lose their thinking blocks (never while streaming:
  dropping SSE events would break the `index` alignment).

JSON bodies are buffered and rewritten once (Content-Length recomputed); SSE is rewritten line by line as
it passes, never held back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from starlette.types import Message, Send

from amp.http_messages import header, with_header, without_headers

BUILTIN_TOOL_NAMES = {"bash": "Bash", "read": "Read", "grep": "Grep", "task": "Task", "check": "Check", "glob": "glob"}
MAX_BUFFERED = 2 * 1024 * 1024
_SIGNED_BLOCKS = ("tool_use", "thinking")
_MODEL_PATHS = (
    ("message", "model"), ("model",), ("modelVersion",), ("response", "model"), ("response", "modelVersion"),
)  # fmt: skip


def declared_tool_names(request: Any) -> dict[str, str | None]:
    """lower-case name -> declared casing (None when the request declared two casings: never rewrite)."""
    names: list[str] = []
    if isinstance(request, dict):
        tools = request.get("tools")
        for tool in tools if isinstance(tools, list) else ():  # a client's `"tools": true` must not crash here
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                names.append(tool["name"])
        choice = request.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") == "tool" and isinstance(choice.get("name"), str):
            names.append(choice["name"])
    table: dict[str, str | None] = {}
    for name in names:
        key = name.lower()
        table[key] = name if table.get(key, name) == name else None
    return table


@dataclass
class RewriteRules:
    original_model: str = ""
    tool_names: Mapping[str, str | None] = field(default_factory=dict)
    suppress_thinking: bool = False

    def tool_name(self, name: str) -> str:
        key = name.lower()
        if key in self.tool_names:
            return self.tool_names[key] or name
        return BUILTIN_TOOL_NAMES.get(name, name)

    def _fix_block(self, block: Any) -> bool:
        if not isinstance(block, dict) or block.get("type") not in _SIGNED_BLOCKS:
            return False
        changed = False
        if "signature" not in block:
            block["signature"] = ""
            changed = True
        if block.get("type") == "tool_use" and isinstance(block.get("name"), str):
            name = self.tool_name(block["name"])
            if name != block["name"]:
                block["name"] = name
                changed = True
        return changed

    def rewrite(self, doc: dict, *, streaming: bool) -> bool:
        """Apply every rule to one JSON document in place; True when it changed."""
        changed = False
        content = doc.get("content")
        if isinstance(content, list):
            if self.suppress_thinking and not streaming and any(_is_type(b, "tool_use") for b in content):
                kept = [b for b in content if not _is_type(b, "thinking")]
                if len(kept) != len(content):
                    doc["content"] = content = kept
                    changed = True
            for block in content:
                changed = self._fix_block(block) or changed
        changed = self._fix_block(doc.get("content_block")) or changed
        if self.original_model:
            for path in _MODEL_PATHS:
                changed = _set_existing(doc, path, self.original_model) or changed
        return changed

    def rewrite_json(self, data: bytes, *, streaming: bool) -> bytes:
        """`data` rewritten, or returned unchanged (same bytes) when it is not JSON or nothing applied."""
        try:
            doc = json.loads(data)
        except ValueError:
            return data
        if not isinstance(doc, dict) or not self.rewrite(doc, streaming=streaming):
            return data
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _is_type(block: Any, kind: str) -> bool:
    return isinstance(block, dict) and block.get("type") == kind


def _set_existing(doc: dict, path: tuple[str, ...], value: str) -> bool:
    node: Any = doc
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or path[-1] not in node or node[path[-1]] == value:
        return False
    node[path[-1]] = value
    return True


class SSERewriter:
    """Rewrites `data: {...}` lines as they pass; only an unfinished last line waits for its end."""

    def __init__(self, rules: RewriteRules) -> None:
        self.rules = rules
        self._partial = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._partial + chunk
        complete, newline, self._partial = data.rpartition(b"\n")
        if not newline:
            self._partial = data
            return b""
        return b"\n".join(self._line(line) for line in complete.split(b"\n")) + b"\n"

    def flush(self) -> bytes:
        rest, self._partial = self._partial, b""
        return self._line(rest) if rest else b""

    def _line(self, line: bytes) -> bytes:
        if not line.startswith(b"data:"):
            return line
        payload = line[5:]
        space = payload.startswith(b" ")
        body = payload[1:] if space else payload
        cr = body.endswith(b"\r")
        body = body[:-1] if cr else body
        if not body.startswith(b"{"):
            return line
        rewritten = self.rules.rewrite_json(body, streaming=True)
        if rewritten is body:
            return line
        return b"data:" + (b" " if space else b"") + rewritten + (b"\r" if cr else b"")


def _looks_like_sse(chunk: bytes) -> bool:
    return any(line.startswith((b"data:", b"event:")) for line in chunk.split(b"\n"))


class RewritingSend:
    """An ASGI `send` wrapper that applies `rules` to the local app's response."""

    def __init__(self, send: Send, rules: RewriteRules) -> None:
        self._send = send
        self._rules = rules
        self._start: Message | None = None
        self._mode = "buffer"  # "buffer" | "stream" | "pass"
        self._buffer = b""
        self._sse = SSERewriter(rules)

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            content_type = (header(headers, b"content-type") or b"").decode("latin-1").lower()
            if header(headers, b"content-encoding"):
                self._mode = "pass"
                await self._send(message)
            elif "stream" in content_type:
                await self._start_streaming(message)
            else:
                self._start = message
            return
        if message["type"] != "http.response.body" or self._mode == "pass":
            await self._send(message)
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self._mode == "buffer":
            self._buffer += body
            if more and (_looks_like_sse(body) or len(self._buffer) > MAX_BUFFERED):
                assert self._start is not None
                await self._start_streaming(self._start)
                body, self._buffer = self._buffer, b""
            elif not more:
                await self._finish_buffered()
                return
            else:
                return
        out = self._sse.feed(body)
        if not more:
            out += self._sse.flush()
        if out or not more:
            await self._send({"type": "http.response.body", "body": out, "more_body": more})

    async def _start_streaming(self, start: Message) -> None:
        self._mode = "stream"
        headers = without_headers(start.get("headers", []), [b"content-length"])
        await self._send({**start, "headers": headers})

    async def _finish_buffered(self) -> None:
        assert self._start is not None
        body = self._rules.rewrite_json(self._buffer, streaming=False)
        headers = list(self._start.get("headers", []))
        if body is not self._buffer:
            headers = with_header(headers, b"content-length", str(len(body)).encode())
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})
