"""Management API writes to the config: the Amp settings and the client api-keys (docs/architecture.md, "Management API").

Each write goes to the YAML first (gateway.config_file, atomic) and, only when that succeeded, into
the running gateway by swapping `rt.settings` for a new frozen GatewaySettings: every request reads
rt.settings afresh, so the change is live without a restart.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Mapping

from gateway.config import ConfigError, check_start_rule
from gateway.config_file import update_gateway_section

log = logging.getLogger("subgate.management")

Result = tuple[int, dict[str, Any]]
AMP_STRINGS = {"upstream-url": "upstream_url", "upstream-api-key": "upstream_api_key"}
AMP_BOOLS = {
    "restrict-management-to-localhost": "restrict_management_to_localhost",
    "fallback-to-upstream": "fallback_to_upstream",
    "force-model-mappings": "force_model_mappings",
}
OK: Result = (200, {"status": "ok"})
INVALID_BODY: Result = (400, {"error": "invalid body"})


def mask(secret: str) -> str:
    if not secret:
        return ""
    if len(secret) <= 12:
        return "*" * len(secret)
    return f"{secret[:4]}...{secret[-4:]}"


def _mappings_out(rt: Any) -> list[dict[str, Any]]:
    return [{"from": m.source, "to": m.target, **({"regex": True} if m.regex else {})}
            for m in rt.settings.amp.model_mappings]


def amp_view(rt: Any) -> dict[str, Any]:
    amp = rt.settings.amp
    return {
        "upstream-url": amp.upstream_url,
        "upstream-api-key": mask(amp.upstream_api_key),
        "restrict-management-to-localhost": amp.restrict_management_to_localhost,
        "fallback-to-upstream": amp.fallback_to_upstream,
        "force-model-mappings": amp.force_model_mappings,
        "model-mappings": _mappings_out(rt),
    }


def _persist_amp(rt: Any, yaml_key: str, value: Any) -> None:
    def change(section: dict[str, Any]) -> None:
        for legacy in [k for k in section if str(k).startswith("amp-")]:
            del section[legacy]  # the nested block is the one place from now on
        amp = dict(section.get("amp") or {})
        amp[yaml_key] = value
        section["amp"] = amp

    written = update_gateway_section(rt.settings.config_path, change, env={})
    field = AMP_STRINGS.get(yaml_key) or AMP_BOOLS.get(yaml_key) or "model_mappings"
    rt.settings = replace(rt.settings, amp=replace(rt.settings.amp, **{field: getattr(written.amp, field)}))
    log.info("management: amp %s updated", yaml_key)


def _value(body: Any) -> Any:
    return body.get("value") if isinstance(body, Mapping) else None


def amp_setting(rt: Any, method: str, key: str, body: Any) -> Result:
    if key in AMP_STRINGS:
        if method == "GET":
            return 200, {key: amp_view(rt)[key]}
        if method == "DELETE":
            value = ""
        elif isinstance(_value(body), str):
            value = _value(body).strip()
        else:
            return INVALID_BODY
    elif key in AMP_BOOLS:
        if method == "GET":
            return 200, {key: amp_view(rt)[key]}
        if method == "DELETE" or not isinstance(_value(body), bool):
            return INVALID_BODY
        value = _value(body)
    elif key == "model-mappings":
        if method == "GET":
            return 200, {key: _mappings_out(rt)}
        new = _new_mappings(rt, method, body)
        if new is None:
            return INVALID_BODY
        value = new
    else:
        return 404, {"error": "not found"}
    try:
        _persist_amp(rt, key, value)
    except ConfigError as exc:
        return 400, {"error": str(exc)}
    return OK


def _new_mappings(rt: Any, method: str, body: Any) -> list[dict[str, Any]] | None:
    current = _mappings_out(rt)
    value = _value(body)
    if method == "DELETE":
        if not isinstance(value, list) or not value:
            return []
        drop = {str(v).strip() for v in value}
        return [m for m in current if m["from"] not in drop]
    if not isinstance(value, list) or not all(isinstance(m, Mapping) for m in value):
        return None
    items = [{"from": str(m.get("from", "")).strip(), "to": str(m.get("to", "")).strip(),
              **({"regex": True} if m.get("regex") else {})} for m in value]
    items = [m for m in items if m["from"] and m["to"]]
    if method == "PUT":
        return items
    if method == "PATCH":
        by_from = {m["from"]: m for m in current}
        for m in items:
            by_from[m["from"]] = m
        return list(by_from.values())
    return None


def api_keys(rt: Any, method: str, body: Any, query: Mapping[str, str]) -> Result:
    keys = list(rt.settings.api_keys)
    if method == "GET":
        return 200, {"api-keys": keys}
    if method == "PUT":
        items = body.get("items") if isinstance(body, Mapping) else body
        if not isinstance(items, list):
            return INVALID_BODY
        keys = [str(k) for k in items]
    elif method == "PATCH":
        if not isinstance(body, Mapping):
            return INVALID_BODY
        if "index" in body and "value" in body:
            try:
                index = int(body["index"])
            except (TypeError, ValueError):
                return INVALID_BODY
            if not 0 <= index < len(keys):
                return 400, {"error": "index out of range"}
            keys[index] = str(body["value"])
        elif "old" in body and "new" in body:
            old, new = str(body["old"]), str(body["new"])
            keys = [new if k == old else k for k in keys] if old in keys else [*keys, new]
        else:
            return INVALID_BODY
    elif method == "DELETE":
        if "index" in query:
            try:
                del keys[int(query["index"])]
            except (ValueError, IndexError):
                return 400, {"error": "invalid index"}
        elif "value" in query:
            keys = [k for k in keys if k != query["value"]]
        else:
            return 400, {"error": "missing index or value"}
    else:
        return 405, {"error": "method not allowed"}
    cleaned = [k.strip() for k in keys if k.strip()]
    candidate = replace(rt.settings, api_keys=tuple(cleaned))
    try:
        check_start_rule(candidate)  # no "open" gateway on a network address
        update_gateway_section(rt.settings.config_path, lambda s: s.__setitem__("api-keys", cleaned), env={})
    except ConfigError as exc:
        return 400, {"error": str(exc)}
    rt.settings = candidate
    log.info("management: api-keys updated (%d keys)", len(cleaned))
    return OK
