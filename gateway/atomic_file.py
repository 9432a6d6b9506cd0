"""Writing small JSON state files so that a crash never leaves a half-written one.

Token files hold single-use refresh tokens: a torn write would lose the account. Every state file of
the gateway (credentials, quota blocks, usage statistics, Factory's config) is written to a temp file
in the same directory, fsynced, renamed over the target, and the directory fsynced.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Never leaves a half-written token file (mode 0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(data, indent=2) + "\n", mode=0o600)


def write_text_atomic(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Temp file in the same dir, fsync, rename over `path`, fsync the dir."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
