"""Building a provider's frozen settings from the `gateway.<provider>:` YAML block and env overrides.

gateway.config collects `{snake_key: value}` per provider (YAML keys and `SUBGATE_<PROVIDER>_<KEY>`
environment variables); each provider declares its defaults as a dataclass and this turns the mapping
into it, refusing unknown keys so a typo in an upstream URL never silently points at the real service.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Mapping, TypeVar

from custom_providers.errors import SettingsError

T = TypeVar("T")


def settings_from_overrides(defaults: T, overrides: Mapping[str, Any], provider: str) -> T:
    types = {f.name: f.type for f in fields(defaults)}  # type: ignore[arg-type]
    unknown = set(overrides) - set(types)
    if unknown:
        raise SettingsError(f"gateway.{provider}: unknown key(s) {sorted(unknown)}; known: {sorted(types)}")
    updates: dict[str, Any] = {}
    for key, value in overrides.items():
        kind = str(types[key])
        if kind in ("int", "float"):
            try:
                updates[key] = int(value) if kind == "int" else float(value)
            except (TypeError, ValueError):
                raise SettingsError(f"gateway.{provider}.{key}: expected a number, got {value!r}") from None
        else:
            updates[key] = "" if value is None else str(value).strip()
    return replace(defaults, **updates)  # type: ignore[type-var]
