"""How much room each account has left: the latest usage reading per account, with its time.

Both subscription upstreams report an account's 5-hour and weekly usage on every answer (the provider
packages parse their own headers into a `UsageReading`). The gateway keeps the latest reading per
account here, shares it with the other workers and the CLI through auth-dir (gateway/headroom_file.py),
and uses it three ways: the accounts views, the `headroom` routing strategy, and the answers to the
clients' own usage screens (gateway/usage_screens.py).

A reading ages: once a window's reset time has passed, its usage is taken as 0 and the next reset as one
window later, and the view says "estimated" instead of "fresh" (a reading older than FRESH_SECONDS is
estimated too: other clients of the same subscription may have spent some of it since).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from custom_providers.credentials import rfc3339
from custom_providers.usage_reading import UsageReading, Window

log = logging.getLogger("subgate.headroom")

FRESH_SECONDS = float(os.environ.get("SUBGATE_USAGE_FRESH_SECONDS", "600"))
WINDOWS = ("five_hour", "weekly")

# (provider name, response headers) -> the reading in them; the runtime asks the provider
# (Provider.usage_from_headers), so this module never knows a header name.
Reader = Callable[[str, Mapping[str, Any]], "UsageReading | None"]


def _no_reader(provider: str, headers: Mapping[str, Any]) -> UsageReading | None:
    return None


@dataclass(frozen=True)
class Snapshot:
    provider: str
    taken_at: float
    reading: UsageReading

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "taken_at": self.taken_at, **self.reading.as_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Snapshot | None":
        try:
            taken = float(data["taken_at"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls(provider=str(data.get("provider") or ""), taken_at=taken, reading=UsageReading.from_dict(data))


@dataclass(frozen=True)
class WindowNow:
    """A window as it stands now: the reading's figures, or 0 and the next reset once it has reset."""

    used_percent: float
    resets_at: float | None
    window_minutes: int | None
    estimated: bool


def window_now(window: Window, taken_at: float, now: float) -> WindowNow:
    reset = window.resets_at
    if reset is None or reset > now:
        return WindowNow(window.used_percent, reset, window.window_minutes, now - taken_at > FRESH_SECONDS)
    length = (window.window_minutes or 0) * 60.0
    while length > 0 and reset <= now:
        reset += length
    return WindowNow(0.0, reset if length > 0 else None, window.window_minutes, True)


SNAPSHOT_KIND = "usage"  # the store's snapshot kind; in auth-dir the file .usage-snapshots.json


@dataclass
class HeadroomBook:
    """Latest reading per account id (opaque ids, never emails), in memory and mirrored to auth-dir."""

    shared_dir: Path | None = None
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    read: Reader = _no_reader
    _dirty: bool = False

    # ---- recording ------------------------------------------------------------------------------------
    def observe(self, account_id: str, provider: str, headers: Mapping[str, Any] | None, now: float | None = None) -> bool:
        """Read the usage headers of one upstream answer for this account; True when they carried a reading."""
        if not headers:
            return False
        try:
            reading = self.read(provider, headers)
        except Exception:  # a malformed header must never fail the request it came with
            log.debug("unreadable usage headers from %s", provider, exc_info=True)
            return False
        if reading is None:
            return False
        self.record(account_id, provider, reading, now)
        return True

    def record(self, account_id: str, provider: str, reading: UsageReading, now: float | None = None) -> None:
        taken = time.time() if now is None else now
        prev = self.snapshots.get(account_id)
        if prev is not None and prev.taken_at > taken:
            return
        self.snapshots[account_id] = Snapshot(provider, taken, reading)
        self._dirty = True

    # ---- reading --------------------------------------------------------------------------------------
    def get(self, account_id: str) -> Snapshot | None:
        return self.snapshots.get(account_id)

    def windows(self, account_id: str, now: float | None = None) -> dict[str, WindowNow]:
        snap = self.snapshots.get(account_id)
        if snap is None:
            return {}
        now = time.time() if now is None else now
        out = {}
        for name in WINDOWS:
            window = getattr(snap.reading, name)
            if window is not None:
                out[name] = window_now(window, snap.taken_at, now)
        return out

    def tightest_used(self, account_id: str, now: float | None = None) -> float | None:
        """Percent used of the account's fullest window now, or None when nothing is known yet."""
        windows = self.windows(account_id, now)
        if not windows:
            return None
        return max(w.used_percent for w in windows.values())

    def room(self, account_id: str, now: float | None = None) -> float:
        """Percent left in the tightest window; an account never read counts as empty (100 % room)."""
        used = self.tightest_used(account_id, now)
        return 100.0 - (used if used is not None else 0.0)

    def pressure(self, account_id: str, now: float | None = None) -> float:
        """How dear it is to spend this account now: each window's used percent, scaled by the share of the
        window still to run before it resets; the fullest window decides (0 for an account never read).

        Room that is not spent before its window resets is lost, so room that comes back soon is cheap:
        a 5-hour window 60 % used that resets in half an hour counts as 6 %, and the headroom strategy
        spends it before a fresh window's room (gateway/selection.py). Two windows that reset at about the
        same time keep the plain order of most room first."""
        now = time.time() if now is None else now
        worst = 0.0
        for w in self.windows(account_id, now).values():
            length = (w.window_minutes or 0) * 60.0
            share = 1.0 if length <= 0 or w.resets_at is None else min(1.0, max(0.0, w.resets_at - now) / length)
            worst = max(worst, w.used_percent * share)
        return worst

    def view(self, account_id: str, now: float | None = None) -> dict[str, Any] | None:
        """The operator's view: each window's used percent, reset time, and fresh or estimated."""
        snap = self.snapshots.get(account_id)
        if snap is None:
            return None
        now = time.time() if now is None else now
        windows = self.windows(account_id, now)
        out: dict[str, Any] = {"taken_at": rfc3339(snap.taken_at), "age_seconds": max(0, int(now - snap.taken_at)),
                               "status": snap.reading.status, "claim": snap.reading.claim}
        for name in WINDOWS:
            w = windows.get(name)
            out[name] = None if w is None else {
                "used_percent": round(w.used_percent, 1),
                "resets_at": rfc3339(w.resets_at) if w.resets_at else None,
                "resets_in_seconds": max(0, int(w.resets_at - now)) if w.resets_at else None,
                "window_minutes": w.window_minutes,
                "estimated": w.estimated,
            }
        out["source"] = "estimated" if any(w.estimated for w in windows.values()) else "fresh"
        return out

    # ---- sharing through auth-dir ---------------------------------------------------------------------
    def load_shared(self) -> None:
        """Merge what other workers recorded (the newest reading per account wins)."""
        if self.shared_dir is None:
            return
        from gateway.headroom_file import read_snapshots

        self.merge(read_snapshots(self.shared_dir))

    def merge(self, shared: Mapping[str, Any]) -> None:
        for account_id, data in shared.items():
            snap = Snapshot.from_dict(data)
            prev = self.snapshots.get(account_id)
            if snap is not None and (prev is None or snap.taken_at > prev.taken_at):
                self.snapshots[account_id] = snap

    async def sync(self, store: Any) -> None:
        """Share readings through the storage seam (gateway/store/: auth-dir's .usage-snapshots.json, or
        Redis for several hosts): publish ours when new, then take in everyone's newest."""
        from gateway.store import StoreUnavailable

        try:
            if self._dirty:
                self._dirty = False
                await store.put_snapshots(SNAPSHOT_KIND, {k: v.as_dict() for k, v in self.snapshots.items()})
            self.merge(await store.snapshots(SNAPSHOT_KIND))
        except (StoreUnavailable, OSError) as exc:
            self._dirty = True
            if not isinstance(exc, StoreUnavailable):
                log.warning("could not share the usage snapshots: %s", type(exc).__name__)

    def save_if_dirty(self) -> None:
        if self.shared_dir is None or not self._dirty:
            return
        from gateway.headroom_file import write_snapshots

        self._dirty = False
        try:
            write_snapshots(self.shared_dir, {k: v.as_dict() for k, v in self.snapshots.items()})
        except OSError as exc:
            self._dirty = True
            log.warning("could not write the usage snapshots: %s", exc)
