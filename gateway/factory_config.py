"""Factory droid's `custom_models` (~/.factory/config.json), generated from the gateway's model list.

The file belongs to the user: droid reads other keys from it and people keep their own BYOK models
there. So the merge only ever touches entries that are ours -- the same (model, base_url, provider) --
updates them in place (keeping any extra keys the user added to them), appends the missing ones, and
leaves every other entry and top-level key alone. Running it twice gives the same file, byte for byte.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from custom_providers.registry import Providers
from gateway.deployments import pool_of
from gateway.atomic_file import write_json_atomic

DEFAULT_FACTORY_CONFIG = Path("~/.factory/config.json")
NO_KEY = "dummy-not-used"
DISPLAY_SUFFIX = " [Proxy]"
# Factory's provider names are the dialects: "anthropic" speaks Messages at base_url/v1/messages,
# "openai" speaks Responses at base_url/responses, hence the /v1 on the OpenAI side only.


class FactoryConfigError(ValueError):
    """The existing Factory file cannot be merged safely; we refuse rather than lose the user's data."""


@dataclass(frozen=True)
class MergeResult:
    config: dict[str, Any]
    added: int
    updated: int
    unchanged: int
    kept: int  # entries that are not ours

    @property
    def ours(self) -> int:
        return self.added + self.updated + self.unchanged


def gateway_api_key(api_keys: Sequence[str]) -> str:
    return api_keys[0] if api_keys else NO_KEY


def factory_entries(
    templates: Iterable[Mapping[str, Any]],
    providers: Providers,
    *,
    port: int,
    api_key: str,
    only: Sequence[str] | None = None,
    host: str = "localhost",
) -> list[dict[str, Any]]:
    """One custom model per explicit pool entry of model_list, in config order (wildcards skipped)."""
    entries: list[dict[str, Any]] = []
    names: list[str] = []
    for template in templates:
        pool = pool_of(template, providers.names())
        name = str(template.get("model_name") or "")
        if pool is None or not name or "*" in name or name in names:
            continue
        names.append(name)
        provider = providers[pool[0]]
        base = f"http://{host}:{port}"
        entries.append({
            "model_display_name": name + DISPLAY_SUFFIX,
            "model": name,
            "base_url": base if provider.dialect == "anthropic" else base + "/v1",
            "api_key": api_key,
            "provider": provider.dialect,
            "max_tokens": provider.output_token_limit(name),
        })
    if only:
        missing = [n for n in only if n not in names]
        if missing:
            raise ValueError(f"not in the config's model list: {', '.join(missing)}; configured: {', '.join(names)}")
        entries = [e for e in entries if e["model"] in only]
    return entries


def _identity(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(entry.get("model")), str(entry.get("base_url", "")).rstrip("/"), str(entry.get("provider")))


def merge_custom_models(existing: Mapping[str, Any], ours: Sequence[Mapping[str, Any]]) -> MergeResult:
    config = dict(existing)
    current = config.get("custom_models", [])
    if not isinstance(current, list):
        raise FactoryConfigError("`custom_models` is not a list; fix or remove it first")
    wanted = {_identity(e): e for e in ours}
    merged: list[Any] = []
    placed: set[tuple[str, str, str]] = set()
    added = updated = unchanged = kept = 0
    for item in current:
        key = _identity(item) if isinstance(item, Mapping) else None
        if key is None or key not in wanted or key in placed:
            merged.append(item)
            kept += 1
            continue
        new = {**item, **wanted[key]}
        if new == item:
            unchanged += 1
        else:
            updated += 1
        merged.append(new)
        placed.add(key)
    for key, entry in wanted.items():
        if key not in placed:
            merged.append(dict(entry))
            added += 1
    config["custom_models"] = merged
    return MergeResult(config, added, updated, unchanged, kept)


def read_factory_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FactoryConfigError(f"{path} is not valid JSON ({exc}); fix or remove it first") from None
    if not isinstance(data, dict):
        raise FactoryConfigError(f"{path} does not hold a JSON object; fix or remove it first")
    return data


def render(config: Mapping[str, Any]) -> str:
    """The exact text `write_factory_config` puts on disk (what --dry-run prints)."""
    return json.dumps(config, indent=2) + "\n"


def update_factory_config(
    path: str | os.PathLike[str], ours: Sequence[Mapping[str, Any]], *, dry_run: bool = False
) -> MergeResult:
    """Merge `ours` into the file; atomic write, 0600 when new, the user's mode kept otherwise."""
    target = Path(path).expanduser()
    result = merge_custom_models(read_factory_config(target), ours)
    if dry_run:
        return result
    mode = target.stat().st_mode & 0o777 if target.exists() else None
    write_json_atomic(target, result.config)  # writes 0600
    if mode is not None and mode != 0o600:
        os.chmod(target, mode)
    return result
