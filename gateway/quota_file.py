"""Account blocks shared through auth-dir, so every worker and `python -m gateway accounts` see them.

One small JSON map {account id: blocked-until (unix seconds)} written atomically; readers merge it
with what they learned themselves. Account ids are opaque hashes, never emails.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from gateway.atomic_file import write_json_atomic

FILENAME = ".quota-blocks.json"


def read_blocks(auth_dir: Path) -> dict[str, float]:
    try:
        data = json.loads((auth_dir / FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):  # a damaged file must not take the CLI or the account loop down
        return {}
    now = time.time()
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float)) and v > now}


def write_blocks(auth_dir: Path, blocks: dict[str, float]) -> None:
    now = time.time()
    merged = {**read_blocks(auth_dir), **blocks}
    live = {k: v for k, v in merged.items() if v > now}
    write_json_atomic(auth_dir / FILENAME, live)


def clear_block(auth_dir: Path, account_id: str) -> None:
    current = read_blocks(auth_dir)
    if account_id in current:
        del current[account_id]
        write_json_atomic(auth_dir / FILENAME, current)
