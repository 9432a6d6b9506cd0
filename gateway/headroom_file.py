"""Usage snapshots shared through auth-dir, so every worker and `python -m gateway accounts` see them.

One JSON map {account id: snapshot} written atomically (mode 0600) beside the quota blocks. A writer
merges with what is on disk, keeping the newest snapshot per account, so two workers writing in turn
never lose each other's readings. This module is the only one that knows where snapshots are stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.atomic_file import write_json_atomic

FILENAME = ".usage-snapshots.json"


def read_snapshots(auth_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((auth_dir / FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):  # a damaged file must not take the CLI or a worker down
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def _taken(snapshot: dict[str, Any]) -> float:
    value = snapshot.get("taken_at")
    return float(value) if isinstance(value, (int, float)) else 0.0


def write_snapshots(auth_dir: Path, snapshots: dict[str, dict[str, Any]]) -> None:
    merged = read_snapshots(auth_dir)
    for account_id, snap in snapshots.items():
        if account_id not in merged or _taken(snap) >= _taken(merged[account_id]):
            merged[account_id] = snap
    write_json_atomic(auth_dir / FILENAME, merged)
