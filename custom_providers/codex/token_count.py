"""A local token estimate for `/v1/messages/count_tokens` aimed at a GPT model.

The Codex backend has no counting endpoint, so, like CLIProxyAPI, the count
is a tiktoken estimate of everything the model would read: system text, message text, tool calls and
results, and tool definitions. tiktoken downloads its encoding files on first use and this gateway
must never reach the internet on its own, so the files are read from the copy LiteLLM ships in
`litellm/litellm_core_utils/tokenizers` (both `o200k_base`, GPT-5's encoding, and `cl100k_base` are
there); if neither is present the call fails rather than fetching.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import tiktoken

_BLOB_BASE = "https://openaipublic.blob.core.windows.net/encodings/"
_SHA256 = {  # tiktoken's own expected hashes: a damaged copy would make tiktoken delete it and download
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
_PER_MESSAGE = 3  # role and separators, as OpenAI's own chat estimate counts them
_lock = threading.Lock()


def count_tokens(body: dict[str, Any], model: str) -> int:
    """Estimated input tokens of an Anthropic-shaped count_tokens body for `model`."""
    encoding = encoding_for(model)
    pieces = list(_texts(body))
    messages = body.get("messages") or []
    return sum(len(encoding.encode(text, disallowed_special=())) for text in pieces) + _PER_MESSAGE * len(messages)


def encoding_for(model: str) -> tiktoken.Encoding:
    """o200k_base for GPT-5 models, cl100k_base otherwise (or when o200k has no offline copy)."""
    return _encoding("o200k_base" if model.removeprefix("chatgpt/").startswith("gpt-5") else "cl100k_base")


def _texts(body: dict[str, Any]):
    system = body.get("system")
    if isinstance(system, str):
        yield system
    elif isinstance(system, list):
        for block in system:
            yield from _block_texts(block)
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            yield content
        else:
            for block in content or []:
                yield from _block_texts(block)
    for tool in body.get("tools") or []:
        yield str(tool.get("name") or "")
        yield str(tool.get("description") or "")
        if tool.get("input_schema") is not None:
            yield json.dumps(tool["input_schema"], separators=(",", ":"))


def _block_texts(block: Any):
    if isinstance(block, str):
        yield block
        return
    if not isinstance(block, dict):
        return
    kind = block.get("type")
    if kind == "text":
        yield str(block.get("text") or "")
    elif kind == "thinking":
        yield str(block.get("thinking") or "")
    elif kind == "tool_use":
        yield str(block.get("name") or "")
        yield json.dumps(block.get("input") or {}, separators=(",", ":"))
    elif kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            yield content
        else:
            for inner in content or []:
                yield from _block_texts(inner)


def bundled_encoding_dir() -> Path | None:
    """LiteLLM's offline tiktoken cache, found without importing LiteLLM."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "litellm_core_utils" / "tokenizers"
    return path if path.is_dir() else None


def has_offline_encoding(name: str) -> bool:
    directory = bundled_encoding_dir()
    if directory is None or name not in _SHA256 or not (directory / _cache_key(name)).is_file():
        return False
    return hashlib.sha256((directory / _cache_key(name)).read_bytes()).hexdigest() == _SHA256[name]


@lru_cache(maxsize=None)
def _encoding(name: str) -> tiktoken.Encoding:
    if not has_offline_encoding(name):
        if name != "cl100k_base":
            return _encoding("cl100k_base")
        raise RuntimeError("no offline copy of the cl100k_base encoding (LiteLLM's bundled tokenizers are missing)")
    # tiktoken looks files up as TIKTOKEN_CACHE_DIR/sha1(url): point it at the bundled copy just for this load,
    # so a hit never downloads and nothing else in the process sees the change.
    with _lock:
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled_encoding_dir())
        try:
            return tiktoken.get_encoding(name)
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous


def _cache_key(name: str) -> str:
    return hashlib.sha1(f"{_BLOB_BASE}{name}.tiktoken".encode()).hexdigest()
