"""The default store: everything in auth-dir, shared by the workers of one box through file locks.

Credential files are CLIProxyAPI's own (one `<provider>-<email>.json` per account), written atomically
with mode 0600 (gateway/atomic_file.py). Every shared file that several workers change (quota blocks,
snapshots, usage totals, login sessions) is changed read-merge-write under a file lock beside it, so
two workers' changes add up instead of the last writer winning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Collection, Mapping

from filelock import AsyncFileLock, FileLock

from gateway.atomic_file import write_json_atomic
from gateway.credential_files import read_credential
from gateway.quota_file import FILENAME as BLOCKS_FILE
from gateway.quota_file import read_blocks
from gateway.store import usage_counters
from gateway.store.base import Store, StoreHealth

log = logging.getLogger("subgate.store")

USAGE_FILE = ".usage-stats.json"
SESSIONS_FILE = ".login-sessions.json"
REPORTS_FILE = ".reported-problems.json"  # which broken credential file this gateway run has reported
REPORTS_KEPT_SECONDS = 7 * 86400


def read_json(path: Path) -> Any:
    """The file's JSON, or None when it is missing or damaged (a damaged file must not take a worker down)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path.name, type(exc).__name__)
        return None


def snapshot_file(kind: str) -> str:
    return f".{kind}-snapshots.json"


def taken_at(snapshot: Mapping[str, Any]) -> float:
    value = snapshot.get("taken_at")
    return float(value) if isinstance(value, (int, float)) else 0.0


def merge_snapshots(current: Mapping[str, Any], new: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged = {str(k): v for k, v in current.items() if isinstance(v, dict)}
    for key, snap in new.items():
        if key not in merged or taken_at(snap) >= taken_at(merged[key]):
            merged[key] = dict(snap)
    return merged


def live_blocks(data: Any, now: float | None = None) -> dict[str, float]:
    if not isinstance(data, dict):
        return {}
    now = time.time() if now is None else now
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float)) and v > now}


class FileStore(Store):
    kind = "files"

    def __init__(self, auth_dir: Path) -> None:
        self.auth_dir = Path(auth_dir)

    @property
    def where(self) -> str:
        return str(self.auth_dir)

    def _path(self, name: str) -> Path:
        return self.auth_dir / name

    def _locked_update(self, filename: str, change: Callable[[Any], Any]) -> Any:
        """Read-merge-write of one shared file under its lock; returns what was written."""
        self.auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(filename)
        with FileLock(str(path) + ".lock", timeout=30):
            data = change(read_json(path))
            write_json_atomic(path, data)
        return data

    # ---- credentials -------------------------------------------------------------------------------
    def change_stamp(self) -> int:
        """auth-dir's mtime: a login, removal or atomic rewrite changes it (one stat per request)."""
        try:
            return self.auth_dir.stat().st_mtime_ns
        except OSError:
            return 0

    def credential_stamps(self) -> dict[str, int]:
        out = {}
        try:
            for path in self.auth_dir.glob("*.json"):
                try:
                    if path.is_file():
                        out[path.name] = path.stat().st_mtime_ns
                except OSError:
                    pass
        except OSError:
            pass
        return out

    def read_credential(self, name: str) -> dict[str, Any] | None:
        return read_credential(self._path(name))[0]

    def inspect_credential(self, name: str, providers: Collection[str] = ()) -> tuple[dict[str, Any] | None, str]:
        return read_credential(self._path(name), providers)

    def first_to_report(self, name: str, stamp: Any, run: str) -> bool:
        claimed = False
        key, now = f"{run} {name}", time.time()

        def change(data: Any) -> dict[str, Any]:
            nonlocal claimed
            # another gateway sharing auth-dir keeps its own entries; week-old ones are dropped
            reports = {k: v for k, v in (data if isinstance(data, dict) else {}).items()
                       if isinstance(v, dict) and now - float(v.get("at") or 0) < REPORTS_KEPT_SECONDS}
            claimed = (reports.get(key) or {}).get("stamp") != stamp
            reports[key] = {"stamp": stamp, "at": now}
            return reports

        try:
            self._locked_update(REPORTS_FILE, change)
        except OSError:  # auth-dir not writable: better said by every worker than by none
            return True
        return claimed

    async def fetch_credential(self, name: str) -> dict[str, Any] | None:
        return self.read_credential(name)

    async def put_credential(self, name: str, data: Mapping[str, Any]) -> None:
        self.put_credential_soon(name, data)

    def put_credential_soon(self, name: str, data: Mapping[str, Any]) -> None:
        write_json_atomic(self._path(name), data)

    def delete_credential_soon(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    async def pull(self) -> bool:
        return False  # the token store's scan reads auth-dir itself

    @asynccontextmanager
    async def refresh_lock(self, name: str, *, timeout: float = 60.0) -> AsyncIterator[None]:
        self.auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        async with AsyncFileLock(str(self._path(name)) + ".lock", timeout=timeout):
            yield

    # ---- quota blocks ------------------------------------------------------------------------------
    def blocks_now(self) -> dict[str, float]:
        return read_blocks(self.auth_dir)

    async def put_block(self, account_id: str, until: float | None) -> None:
        def change(data: Any) -> dict[str, float]:
            blocks = live_blocks(data)
            if until is None:
                blocks.pop(account_id, None)
            else:
                blocks[account_id] = max(until, blocks.get(account_id, 0.0))
            return blocks

        await asyncio.to_thread(self._locked_update, BLOCKS_FILE, change)

    async def blocks(self) -> dict[str, float]:
        return self.blocks_now()

    # ---- keyed snapshots ---------------------------------------------------------------------------
    async def put_snapshots(self, kind: str, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        def change(data: Any) -> dict[str, Any]:
            return merge_snapshots(data if isinstance(data, dict) else {}, snapshots)

        await asyncio.to_thread(self._locked_update, snapshot_file(kind), change)

    async def snapshots(self, kind: str) -> dict[str, dict[str, Any]]:
        data = read_json(self._path(snapshot_file(kind)))
        return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    # ---- usage counters ----------------------------------------------------------------------------
    async def add_usage(self, delta: Mapping[str, Any]) -> dict[str, Any]:
        def change(data: Any) -> dict[str, Any]:
            return usage_counters.merge(data if isinstance(data, dict) else usage_counters.empty(), delta)

        return await asyncio.to_thread(self._locked_update, USAGE_FILE, change)

    def add_usage_now(self, delta: Mapping[str, Any]) -> dict[str, Any]:
        """The same from a thread or at shutdown, when no event loop is left to run it."""
        return self._locked_update(USAGE_FILE, lambda data: usage_counters.merge(
            data if isinstance(data, dict) else usage_counters.empty(), delta))

    async def usage(self) -> dict[str, Any]:
        data = read_json(self._path(USAGE_FILE))
        return usage_counters.merge(data, usage_counters.empty()) if isinstance(data, dict) else usage_counters.empty()

    # ---- management login sessions -----------------------------------------------------------------
    def _sessions(self, data: Any) -> dict[str, Any]:
        now = time.time()
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict) and float(v.get("expires", 0)) > now}

    async def put_session(self, state: str, data: Mapping[str, Any], ttl: float) -> None:
        entry = {**data, "expires": time.time() + ttl}
        await asyncio.to_thread(self._locked_update, SESSIONS_FILE,
                                lambda cur: {**self._sessions(cur), state: entry})

    async def get_session(self, state: str) -> dict[str, Any] | None:
        entry = self._sessions(read_json(self._path(SESSIONS_FILE))).get(state)
        return {k: v for k, v in entry.items() if k != "expires"} if entry else None

    async def delete_session(self, state: str) -> bool:
        found = []

        def change(cur: Any) -> dict[str, Any]:
            sessions = self._sessions(cur)
            found.append(sessions.pop(state, None) is not None)
            return sessions

        await asyncio.to_thread(self._locked_update, SESSIONS_FILE, change)
        return found[0]

    # ---- health ------------------------------------------------------------------------------------
    async def health(self) -> StoreHealth:
        t0 = time.perf_counter()
        ok = self.auth_dir.is_dir() and os.access(self.auth_dir, os.W_OK)
        return StoreHealth("files", str(self.auth_dir), ok, "", (time.perf_counter() - t0) * 1000,
                           "" if ok else "auth-dir is missing or not writable")
