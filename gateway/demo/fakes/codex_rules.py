"""What the fake Codex backend refuses in a Responses request, with the backend's own error bodies.

Kept apart from the server (gateway/demo/fakes/codex_backend.py) so each reads as one job: this module
says no, the server answers. The rules are at least as strict as chatgpt.com's, so the gateway cannot
pass its tests while sending something the real backend would refuse.
"""

from __future__ import annotations

from typing import Any, Callable

UNSUPPORTED = (
    "max_output_tokens", "max_completion_tokens", "max_tokens", "temperature", "top_p", "metadata", "user",
    "truncation", "context_management", "safety_identifier", "stream_options", "prompt_cache_retention",
)

# (encrypted_content, account id) -> True when this fake issued it to that account
Sealed = Callable[[Any, str], bool]


def refuse(req: dict[str, Any], account_id: str, sealed_for: Sealed) -> dict[str, Any] | None:
    """The backend's 400 body for the first thing it refuses in `req`, or None when it would answer."""
    if req.get("stream") is not True:
        return {"detail": "Stream must be set to true"}
    if req.get("store") is not False:
        return {"detail": "Store must be set to false"}
    if not isinstance(req.get("instructions"), str) or not req["instructions"].strip():
        return {"detail": "Instructions are required"}
    if not str(req.get("model", "")).startswith("gpt-5"):
        return {"detail": f"Unsupported model: {req.get('model')}"}
    for key in UNSUPPORTED:
        if key in req:
            return {"detail": f"Unsupported parameter: {key}"}
    if req.get("previous_response_id"):
        return bad(f"Previous response with id '{req['previous_response_id']}' not found.",
                   "previous_response_id", "previous_response_not_found")
    for i, tool in enumerate(req.get("tools") or []):
        if tool.get("type") != "function":
            continue
        if "name" not in tool:
            return bad(f"Missing required parameter: 'tools[{i}].name'.", f"tools[{i}].name", "missing_required_parameter")
        refusal = _name_refusal(tool["name"], f"tools[{i}].name")
        if refusal:
            return refusal
    return _input_refusal(req.get("input"), account_id, sealed_for)


def _input_refusal(items: Any, account_id: str, sealed_for: Sealed) -> dict[str, Any] | None:
    if isinstance(items, str) or items is None:
        return None
    calls: set[str] = set()
    for i, entry in enumerate(items):
        kind = entry.get("type", "message")
        if kind == "item_reference":
            return bad(f"Item with id '{entry.get('id')}' not found. Items are not persisted when `store` is set "
                       "to false. Try again with `store` set to true, or remove this item from your input.",
                       "input", None)
        if kind in ("function_call", "custom_tool_call"):
            calls.add(entry.get("call_id", ""))
            refusal = _name_refusal(entry.get("name", ""), f"input[{i}].name")
            if refusal:
                return refusal
        if kind in ("function_call_output", "custom_tool_call_output") and entry.get("call_id") not in calls:
            return bad(f"No tool call found for function call output with call_id {entry.get('call_id')}.",
                       "input", None)
        if kind == "reasoning":
            if "encrypted_content" not in entry:
                return bad(f"Item with id '{entry.get('id')}' not found. Items are not persisted when `store` "
                           "is set to false.", "input", None)
            if not sealed_for(entry["encrypted_content"], account_id):
                return bad(f"The encrypted content for item {entry.get('id')} could not be verified.",
                           None, "invalid_encrypted_content")
    return None


def _name_refusal(name: Any, param: str) -> dict[str, Any] | None:
    if not isinstance(name, str) or len(name) > 64:
        size = len(name) if isinstance(name, str) else 0
        return bad(f"Invalid '{param}': string too long. Expected a string with maximum length 64, but got a "
                   f"string with length {size} instead.", param, "string_above_max_length")
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        return bad(f"Invalid '{param}': string does not match pattern. Expected a string that matches the pattern "
                   "'^[a-zA-Z0-9_-]+$'.", param, "invalid_value")
    return None


def bad(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
