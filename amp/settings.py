"""The `gateway.amp:` section (and the flat `amp-*` keys of the reference config) as frozen settings.

Amp owns these: gateway/config.py hands this module the raw section, the flat keys and the
environment, and wraps an AmpSettingsError into its own ConfigError. `snake_key` and `parse_bool`
are the YAML conventions both use (kebab-case keys, YAML-or-environment booleans).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

DEFAULT_AMP_UPSTREAM = "https://ampcode.com"
_BOOLEAN_KEYS = ("restrict_management_to_localhost", "fallback_to_upstream", "force_model_mappings")


class AmpSettingsError(ValueError):
    """The Amp section names an unknown key or holds a value of the wrong kind."""


@dataclass(frozen=True)
class ModelMapping:
    source: str
    target: str
    regex: bool = False


@dataclass(frozen=True)
class AmpSettings:
    upstream_url: str = DEFAULT_AMP_UPSTREAM
    upstream_api_key: str = ""
    restrict_management_to_localhost: bool = True
    fallback_to_upstream: bool = True
    force_model_mappings: bool = False
    model_mappings: tuple[ModelMapping, ...] = ()
    secrets_file: str = "~/.local/share/amp/secrets.json"


def snake_key(key: str) -> str:
    return key.strip().replace("-", "_").lower()


def parse_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise AmpSettingsError(f"{key}: expected true or false, got {value!r}")


def _mappings(value: Any) -> tuple[ModelMapping, ...]:
    out = []
    for item in value or []:
        if not isinstance(item, Mapping):
            raise AmpSettingsError(f"amp model-mappings: expected {{from, to}}, got {item!r}")
        source, target = str(item.get("from", "")).strip(), str(item.get("to", "")).strip()
        if source and target:
            out.append(ModelMapping(source, target, bool(item.get("regex", False))))
    return tuple(out)


def amp_settings(section: Mapping[str, Any], flat: Mapping[str, Any], env: Mapping[str, str]) -> AmpSettings:
    """Settings from the `amp:` block, the flat `amp-*` keys (block wins) and SUBGATE_AMP_* variables."""
    merged: dict[str, Any] = {}
    for key, value in flat.items():  # the reference config's flat keys: amp-upstream-url, ...
        if key.startswith("amp-"):
            merged[snake_key(key[4:])] = value
    merged.update({snake_key(k): v for k, v in (section or {}).items()})
    if env.get("SUBGATE_AMP_UPSTREAM_URL") is not None:
        merged["upstream_url"] = env["SUBGATE_AMP_UPSTREAM_URL"]
    if env.get("SUBGATE_AMP_SECRETS_FILE"):
        merged["secrets_file"] = env["SUBGATE_AMP_SECRETS_FILE"]
    known = {f.name for f in fields(AmpSettings)}
    unknown = set(merged) - known
    if unknown:
        raise AmpSettingsError(f"amp: unknown key(s) {sorted(k.replace('_', '-') for k in unknown)}; "
                               f"known: {sorted(k.replace('_', '-') for k in known)}")
    out = AmpSettings()
    for key, value in merged.items():
        if key in _BOOLEAN_KEYS:
            value = parse_bool(value, f"amp.{key}")
        elif key == "model_mappings":
            value = _mappings(value)
        else:
            value = "" if value is None else str(value).strip()
        out = replace(out, **{key: value})
    return out
