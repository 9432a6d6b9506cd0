"""What a request to the ChatGPT Codex backend must look like, kept free of LiteLLM so it is testable alone.

The backend is not the public Responses API: it only streams, never stores, needs `instructions`,
rejects sampling and limit fields outright, and binds every call to the account in
`ChatGPT-Account-Id` (docs/architecture.md, "Codex shaping"). Clients are written for the public
API, so this module bridges the two without touching what the client meant: its instructions, cache
key, verbosity, tools and replayed items go through unchanged, and only what the backend refuses is
removed. `prepare_call` is the per-attempt part the gateway hook runs once the router has picked an
account.
"""

from __future__ import annotations

from typing import Any, Mapping

from custom_providers.codex.settings import CodexSettings
from custom_providers.codex.tool_names import restore_name, shorten_names

DROPPED_FIELDS = (
    "max_output_tokens", "max_tokens", "max_completion_tokens", "temperature", "top_p", "metadata", "user",
    "truncation", "safety_identifier", "stream_options", "previous_response_id", "prompt_cache_retention",
    "prompt_cache_options", "context_management",
)
ENCRYPTED_REASONING = "reasoning.encrypted_content"
FORWARDED_HEADERS = ("session-id", "session_id", "thread-id", "x-client-request-id")
# Codex CLI's identity: forwarded together when the caller is Codex CLI, replaced together otherwise.
IDENTITY_HEADERS = ("originator", "user-agent", "version")
CODEX_CLI_AGENTS = ("codex_", "codex-")
FORWARDED_PREFIXES = ("x-codex-",)
SESSION_HEADERS = ("session-id", "session_id")
_NAMED_ITEMS = ("function_call", "custom_tool_call")
_NAMED_ECHOES = ("function", "custom", "response.function_call_arguments.done")  # tools echoed, argument events
_PRIORITY_TIERS = {"priority": "priority", "fast": "priority"}


def shape_request(body: Mapping[str, Any], *, default_instructions: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The upstream body for a Responses-shaped `body`, and the short→original tool-name map to undo later."""
    out = {key: value for key, value in body.items() if key not in DROPPED_FIELDS and value is not None}
    out["stream"] = True
    out["store"] = False
    include = [entry for entry in out.get("include") or [] if entry != ENCRYPTED_REASONING]
    out["include"] = include + [ENCRYPTED_REASONING]
    instructions = body.get("instructions")
    if not isinstance(instructions, str) or not instructions.strip():
        out["instructions"] = default_instructions
    tier = _PRIORITY_TIERS.get(str(out.pop("service_tier", "")))
    if tier:
        out["service_tier"] = tier
    if out.get("tools"):
        out["tools"] = [_flat_tool(tool) for tool in out["tools"]]

    names = [tool["name"] for tool in out.get("tools") or [] if isinstance(tool.get("name"), str)]
    items = out.get("input") if isinstance(out.get("input"), list) else []
    names += [item["name"] for item in items if _is_named_item(item)]
    long_to_short = shorten_names(names)
    if long_to_short:
        out["tools"] = [_renamed(tool, long_to_short) for tool in out.get("tools") or []]
        out["input"] = [_renamed(item, long_to_short) if _is_named_item(item) else item for item in items]
        choice = out.get("tool_choice")
        if isinstance(choice, dict) and choice.get("name") in long_to_short:
            out["tool_choice"] = _renamed(choice, long_to_short)
    return out, {short: long for long, short in long_to_short.items()}


def is_codex_cli(headers: Mapping[str, str]) -> bool:
    """Codex CLI (and `codex exec`) name themselves in `originator` and their user agent."""
    return str(headers.get("user-agent", "")).startswith(CODEX_CLI_AGENTS) or str(
        headers.get("originator", "")).startswith(CODEX_CLI_AGENTS)


def upstream_headers(client_headers: Mapping[str, str], *, originator: str, user_agent: str) -> dict[str, str]:
    """Session headers as sent, plus one identity: Codex CLI's own `originator` / `user-agent` /
    `version` when the caller is Codex CLI, else the configured Codex CLI identity, never a mix (an
    SDK's or droid's user agent next to `originator: codex_cli_rs` is what the backend sees as odd)."""
    lowered = {name.lower(): value for name, value in client_headers.items() if value}
    out = {name: lowered[name] for name in FORWARDED_HEADERS if name in lowered}
    out.update({n: v for n, v in lowered.items() if n.startswith(FORWARDED_PREFIXES)})
    if is_codex_cli(lowered):
        out.update({name: lowered[name] for name in IDENTITY_HEADERS if name in lowered})
        out.setdefault("originator", originator)
        out.setdefault("user-agent", user_agent)
    else:
        out["originator"] = originator
        out["user-agent"] = user_agent
    return out


def has_session_header(headers: Mapping[str, str]) -> bool:
    return any(name.lower() in SESSION_HEADERS for name in headers)


def restore_tool_names(obj: Any, short_to_original: Mapping[str, str]) -> Any:
    """Put the client's tool names back into a response, an output item or a stream event (in place)."""
    if not short_to_original or not isinstance(obj, dict):
        return obj
    named = _is_named_item(obj) or obj.get("type") in _NAMED_ECHOES
    if named and isinstance(obj.get("name"), str):
        obj["name"] = restore_name(obj["name"], short_to_original)
    for key in ("item", "response"):
        restore_tool_names(obj.get(key), short_to_original)
    for key in ("output", "tools"):
        for entry in obj.get(key) or []:
            restore_tool_names(entry, short_to_original)
    return obj


def forced_reasoning(reasoning: Any, forced_effort: str | None, default_effort: str) -> dict[str, Any]:
    """The client's reasoning object with the deployment's effort (or the default when neither set one)."""
    merged = dict(reasoning) if isinstance(reasoning, Mapping) else {}
    merged["effort"] = forced_effort or merged.get("effort") or default_effort
    return merged


# The Responses call's keyword that carries the provider's settings to the LiteLLM config class
# (custom_providers/codex/litellm_adapter.py, `settings_of`): LiteLLM keeps a Responses call's unknown
# keywords in its `litellm_params` and sends none of them upstream. Read per attempt, so a config
# reload (a new provider instance) takes effect on the next call.
SETTINGS_KEY = "codex_settings"


def prepare_call(
    kwargs: dict[str, Any],
    call_type: Any,
    *,
    access_token: str,
    account_id: str,
    forced_effort: str | None,
    settings: CodexSettings,
) -> None:
    """Bind one LiteLLM call attempt to an account and enforce the deployment's reasoning effort.

    The hook runs on every nested call of a bridged request too (messages → completion → responses),
    so each call type gets the effort in the field it reads: `reasoning` for Responses, the flat
    `reasoning_effort` for chat, which LiteLLM's bridge turns into `reasoning.effort`.
    """
    kwargs["api_key"] = access_token
    headers = {k: v for k, v in (kwargs.get("extra_headers") or {}).items() if k.lower() != "chatgpt-account-id"}
    headers["ChatGPT-Account-Id"] = account_id
    kwargs["extra_headers"] = headers
    kind = str(getattr(call_type, "value", call_type)).removeprefix("CallTypes.")
    if kind in ("responses", "aresponses"):
        kwargs[SETTINGS_KEY] = settings  # not on chat: LiteLLM would send an unknown chat keyword upstream
        kwargs["reasoning"] = forced_reasoning(kwargs.get("reasoning"), forced_effort, settings.default_effort)
    elif kind in ("completion", "acompletion"):
        client_effort = kwargs.get("reasoning_effort")
        if forced_effort:
            kwargs["reasoning_effort"] = forced_effort
        elif not client_effort and not kwargs.get("thinking"):
            kwargs["reasoning_effort"] = settings.default_effort


def _flat_tool(tool: Any) -> Any:
    """Chat-style `{"type":"function","function":{...}}` tools flattened; null fields dropped (the backend
    validates them as values, and LiteLLM's chat bridge sends `strict: null`)."""
    if not isinstance(tool, dict):
        return tool
    if tool.get("type") == "function" and "name" not in tool and isinstance(tool.get("function"), dict):
        tool = {"type": "function", **tool["function"]}
    return {key: value for key, value in tool.items() if value is not None}


def _is_named_item(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") in _NAMED_ITEMS and isinstance(item.get("name"), str)


def _renamed(entry: Any, long_to_short: Mapping[str, str]) -> Any:
    if isinstance(entry, dict) and entry.get("name") in long_to_short:
        return {**entry, "name": long_to_short[entry["name"]]}
    return entry
