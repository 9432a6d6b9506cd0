"""Writing operator changes back into config/litellm.yaml without trampling the user's file.

Two kinds of write, both atomic (temp file in the same directory, fsync, rename):
- the management secret: a plaintext `secret-key:` under `gateway.remote-management` is replaced by
  its bcrypt hash on that one line; every other byte of the file stays as it was;
- management API changes to the `gateway:` section (Amp settings, api-keys): only that top-level
  block is re-rendered (comments inside it are lost, the model list and its comments are kept).
Every write is parsed back before it replaces the file, so a bad edit never reaches disk.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

import yaml

from gateway.atomic_file import write_text_atomic as _write_atomic
from gateway.config import ConfigError, GatewaySettings, settings_from_yaml

_TOP_KEY = re.compile(r"^[^\s#][^:]*:")


def write_text_atomic(path: Path, text: str) -> None:
    """Rewrites keep the file's own permissions (a config may be group-readable on purpose)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    _write_atomic(path, text, mode=mode)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    """(first, last+1) line indexes of the mapping under `key:` found between start and end."""
    for i in range(start, end):
        stripped = lines[i].strip()
        if stripped.startswith(f"{key}:") and not stripped.startswith("#"):
            base = _indent(lines[i])
            j = i + 1
            while j < end and (not lines[j].strip() or lines[j].lstrip().startswith("#") or _indent(lines[j]) > base):
                j += 1
            return i, j
    return None


def replace_secret_key(text: str, new_value: str) -> str | None:
    """The file with gateway.remote-management.secret-key set to new_value on its own line, or None."""
    lines = text.splitlines(keepends=True)
    gw = _block(lines, 0, len(lines), "gateway")
    rm = _block(lines, gw[0] + 1, gw[1], "remote-management") if gw else None
    if rm is None:
        return None
    for i in range(rm[0] + 1, rm[1]):
        match = re.match(r"^(\s*secret-key:\s*)(.*?)(\r?\n?)$", lines[i])
        if not match:
            continue
        value = match.group(2)
        tail = ""
        if value[:1] in ("'", '"'):
            close = value.find(value[0], 1)
            tail = value[close + 1:] if close > 0 else ""
        elif " #" in value:
            tail = value[value.index(" #"):]
        lines[i] = f'{match.group(1)}"{new_value}"{tail}{match.group(3)}'
        out = "".join(lines)
        try:
            parsed = yaml.safe_load(out) or {}
        except yaml.YAMLError:
            return None
        stored = ((parsed.get("gateway") or {}).get("remote-management") or {}).get("secret-key")
        return out if stored == new_value else None
    return None


def hash_secret_in_file(path: str | os.PathLike[str], hashed: str) -> bool:
    """True when the file now holds the hash; False (file untouched) when the line could not be found."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except OSError:
        return False
    new = replace_secret_key(text, hashed)
    if new is None:
        return False
    write_text_atomic(target, new)
    return True


def update_gateway_section(
    path: str | os.PathLike[str], change: Callable[[dict[str, Any]], None], *, env: dict[str, str] | None = None
) -> GatewaySettings:
    """Apply `change` to the YAML's gateway mapping and persist it; returns the settings as the file now says.

    Raises ConfigError (file untouched) when the result would not load, e.g. removing the last api-key
    of a gateway that listens beyond loopback.
    """
    target = Path(path)
    text = target.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{target}: the top level must be a mapping")
    section = dict(data.get("gateway") or {})
    change(section)
    data["gateway"] = section
    settings = settings_from_yaml(data, config_path=str(target), env=env)
    rendered = yaml.safe_dump({"gateway": section}, sort_keys=False, default_flow_style=False, allow_unicode=True)
    lines = text.splitlines(keepends=True)
    span = None
    for i, line in enumerate(lines):
        if line.startswith("gateway:"):
            j = i + 1
            while j < len(lines) and not _TOP_KEY.match(lines[j]):
                j += 1
            while j > i + 1 and lines[j - 1].lstrip().startswith("#"):
                j -= 1  # comments just above the next top-level key belong to it
            span = (i, j)
            break
    if span is None:
        new_text = text + ("" if text.endswith("\n") or not text else "\n") + rendered
    else:
        rest = "".join(lines[span[1]:])
        new_text = "".join(lines[: span[0]]) + rendered + ("\n" if rest else "") + rest
    if (yaml.safe_load(new_text) or {}).get("gateway") != section:
        raise ConfigError("the gateway section could not be written back faithfully")
    write_text_atomic(target, new_text)
    return settings
