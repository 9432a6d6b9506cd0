"""Tool names the Codex backend accepts (at most 64 characters), and the way back to the client's names.

MCP clients build names like `mcp__<server>__<tool>` that easily pass 64 characters, and the backend
refuses the whole request for one such name. CLIProxyAPI's rule is kept so names look the same through
either gateway: `mcp__srv__tool` becomes `mcp__tool`, anything else is truncated, and a clash gets
`_1`, `_2`, ... The reverse map is rebuilt from the request itself, so no state outlives a call.
"""

from __future__ import annotations

from typing import Iterable, Mapping

LIMIT = 64


def shorten_names(names: Iterable[str], limit: int = LIMIT) -> dict[str, str]:
    """Map every over-long name to a unique short one; names within the limit are left out (kept as is)."""
    ordered = list(dict.fromkeys(names))
    used = {name for name in ordered if len(name) <= limit}
    mapping: dict[str, str] = {}
    for name in ordered:
        if len(name) <= limit:
            continue
        short = _unique(_candidate(name, limit), used, limit)
        used.add(short)
        mapping[name] = short
    return mapping


def restore_name(name: str, short_to_original: Mapping[str, str]) -> str:
    return short_to_original.get(name, name)


def _candidate(name: str, limit: int) -> str:
    if name.startswith("mcp__"):
        tail = name.rsplit("__", 1)[1]
        if tail:
            return ("mcp__" + tail)[:limit]
    return name[:limit]


def _unique(candidate: str, used: set[str], limit: int) -> str:
    if candidate not in used:
        return candidate
    n = 1
    while True:
        suffix = f"_{n}"
        name = candidate[: limit - len(suffix)] + suffix
        if name not in used:
            return name
        n += 1
