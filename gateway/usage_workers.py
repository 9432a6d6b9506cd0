"""Usage statistics with several workers: each worker keeps its own share, every view shows the sum.

With `--workers N` each process has its own UsageBook; saving them all to one file would let the
last writer win, and /metrics or /ui would show whichever worker answered. So each worker starts
empty and saves only its share to `auth-dir/.usage-workers/<pid>.json`; /metrics, /ui and the
management API read the saved total (`.usage-stats.json`) plus every worker's share. A worker that
stops folds its share into the total under a file lock; shares left by a killed worker are folded in
by the next worker that starts. With one worker none of this runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from filelock import FileLock

from gateway.usage import RECENT_ERRORS, USAGE_FILE, UsageBook

WORKERS_DIR = ".usage-workers"
VIEW_TTL = 1.0


def enabled() -> bool:
    try:
        return int(os.environ.get("SUBGATE_WORKERS") or 1) > 1
    except ValueError:
        return False


def add(into: UsageBook, other: UsageBook) -> None:
    for key, cell in other.tallies.items():
        account_id = key[0]
        info = other.accounts.get(account_id)
        into._cell(account_id, info.email if info else "", info.provider if info else "", key[1]).add(cell)
    for account_id, info in other.accounts.items():
        mine = into.accounts.setdefault(account_id, type(info)(info.email, info.provider))
        if info.last_reset_seen and (mine.last_reset_seen or 0) < info.last_reset_seen:
            mine.last_reset_seen = info.last_reset_seen
    for hour, counts in other.hours.items():
        bucket = into.hours.setdefault(hour, [0, 0, 0])
        for i in range(3):
            bucket[i] += counts[i]
    errors = sorted([*into.recent_errors, *other.recent_errors], key=lambda e: e.get("time") or 0)
    into.recent_errors.clear()
    into.recent_errors.extend(errors[-RECENT_ERRORS:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fold(auth: Path, shares: list[tuple[Path, UsageBook]]) -> None:
    with FileLock(str(auth / ".usage-workers.lock"), timeout=30):
        total = UsageBook.load(auth / USAGE_FILE)
        for _, share in shares:
            add(total, share)
        total.write(total.as_dict())
        for path, _ in shares:
            path.unlink(missing_ok=True)


def worker_book(auth: Path) -> UsageBook:
    """This worker's (empty) share; shares of workers that are gone are folded into the total first."""
    folder = auth / WORKERS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    left = [(p, UsageBook.load(p)) for p in folder.glob("*.json") if p.stem.isdigit() and not _alive(int(p.stem))]
    if left:
        _fold(auth, left)
    return UsageBook(folder / f"{os.getpid()}.json")


def fold_share(auth: Path, share: UsageBook) -> None:
    """At shutdown: this worker's share joins the total."""
    if share.path is not None:
        _fold(auth, [(share.path, share)])


class View:
    """The whole gateway's usage, re-read at most once a second (a /metrics scrape, a /ui refresh)."""

    def __init__(self, auth: Path, own: UsageBook) -> None:
        self.auth, self.own = auth, own
        self._cached: UsageBook | None = None
        self._at = 0.0

    def book(self) -> UsageBook:
        now = time.monotonic()
        if self._cached is None or now - self._at > VIEW_TTL:
            total = UsageBook.load(self.auth / USAGE_FILE)
            for path in (self.auth / WORKERS_DIR).glob("*.json"):
                if path != self.own.path:
                    add(total, UsageBook.load(path))
            add(total, self.own)
            self._cached, self._at = total, now
        return self._cached
