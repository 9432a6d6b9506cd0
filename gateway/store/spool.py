"""Credential writes the Redis store could not deliver yet, kept on the host's disk until it can.

A rotated refresh token exists nowhere else: if Redis is down when a login or a refresh finishes, the
new credential is written here (`auth-dir/.store-pending/<name>`, mode 0600, atomically) and pushed to
Redis when it answers again, also after a restart of the gateway. `{"deleted": true}` marks a removal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from gateway.atomic_file import write_json_atomic

SPOOL_DIR = ".store-pending"


class CredentialSpool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self) -> dict[str, dict[str, Any] | None]:
        """{name: credential, or None for a removal} of every write still waiting."""
        out: dict[str, dict[str, Any] | None] = {}
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(entry, dict):
                out[path.name] = entry.get("data") if isinstance(entry.get("data"), dict) else None
        return out

    def put(self, name: str, data: Mapping[str, Any] | None) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_json_atomic(self.folder / name, {"data": dict(data)} if data is not None else {"deleted": True})

    def remove(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)
