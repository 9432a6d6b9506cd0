"""The quota-block file in auth-dir, read by the file store (gateway/store/files.py), the CLI and doctor.

One small JSON map {account id: blocked-until (unix seconds)}; the file store changes it under a file
lock. Account ids are opaque hashes, never emails.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

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
