"""A cheap look at an inference request's basic shape before LiteLLM sees it.

LiteLLM trusts the body's types: `null`, a list, `"model": 5` or `"messages": "hi"` crash it inside
its own code and the client gets a 500 (or uvicorn's plain "Internal Server Error"), which SDKs
retry and agents report as a gateway fault. The front layer checks only what LiteLLM would trip on,
top-level types, and answers a 400 in the caller's dialect. The body is parsed once, with orjson,
and handed to LiteLLM through its own parsed-body cache (`scope["parsed_body"]`, read by
litellm.proxy.common_utils.http_parsing_utils.read_request_body), so a valid request is not parsed
twice: the check costs about as much as the parse it replaces.
"""

from __future__ import annotations

from typing import Any

import orjson

MESSAGES_PATHS = frozenset({"/v1/messages", "/messages"})
CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
RESPONSES_PATHS = frozenset({"/v1/responses", "/responses"})
COMPLETIONS_PATHS = frozenset({"/v1/completions", "/completions"})
COUNT_TOKENS_PATHS = frozenset({"/v1/messages/count_tokens"})
CHECKED_PATHS = MESSAGES_PATHS | CHAT_PATHS | RESPONSES_PATHS | COMPLETIONS_PATHS

_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
               float: "a number", type(None): "null"}


class ShapeError(ValueError):
    """The body cannot be a request of this route; the message names the field for the client."""


def _kind(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _want(body: dict[str, Any], key: str, types: tuple[type, ...], expected: str, *, required: bool = False) -> None:
    if key not in body:
        if required:
            raise ShapeError(f"{key}: Field required")
        return
    value = body[key]
    # bool is an int in Python; a JSON true is never a valid count
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise ShapeError(f"{key}: Input should be {expected}, got {_kind(value)}")


def _want_objects(body: dict[str, Any], key: str) -> None:
    for i, item in enumerate(body.get(key) or ()):
        if not isinstance(item, dict):
            raise ShapeError(f"{key}.{i}: Input should be an object, got {_kind(item)}")


def parse(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; ShapeError when it is empty, not JSON or not an object."""
    if not raw.strip():
        raise ShapeError("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ShapeError("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ShapeError(f"The request body must be a JSON object, got {_kind(body)}.")
    return body


def check(path: str, body: dict[str, Any]) -> None:
    """ShapeError when a top-level field has a type LiteLLM cannot handle on this route."""
    _want(body, "model", (str,), "a string", required=True)
    if not body["model"].strip():
        raise ShapeError("model: String should not be empty")
    _want(body, "stream", (bool, type(None)), "a boolean")
    for key in ("max_tokens", "max_output_tokens", "max_completion_tokens", "n"):
        _want(body, key, (int, type(None)), "an integer")
    for key in ("temperature", "top_p"):
        _want(body, key, (int, float, type(None)), "a number")
    _want(body, "tools", (list, type(None)), "an array")
    _want_objects(body, "tools")
    _want(body, "metadata", (dict, type(None)), "an object")
    if path in MESSAGES_PATHS or path in CHAT_PATHS or path in COUNT_TOKENS_PATHS:
        _want(body, "messages", (list,), "an array", required=True)
        _want_objects(body, "messages")
    if path in MESSAGES_PATHS:  # the Messages API requires it; LiteLLM's call would fail with a TypeError
        _want(body, "max_tokens", (int,), "an integer", required=True)
    if path in MESSAGES_PATHS or path in COUNT_TOKENS_PATHS:
        _want(body, "system", (str, list, type(None)), "a string or an array")
    elif path in RESPONSES_PATHS:
        _want(body, "input", (str, list), "a string or an array", required=True)
        _want(body, "instructions", (str, type(None)), "a string")
    elif path in COMPLETIONS_PATHS:
        _want(body, "prompt", (str, list), "a string or an array", required=True)
        prompt = body["prompt"]
        if isinstance(prompt, list) and (not prompt or not all(isinstance(p, str) for p in prompt)):
            raise ShapeError("prompt: Input should be a string or a non-empty array of strings")


def litellm_parsed_body(body: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The value LiteLLM's read_request_body looks for in scope["parsed_body"]."""
    return tuple(body.keys()), body
