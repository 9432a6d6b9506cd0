"""Which account serves an attempt: account-level, so quota, affinity and order hold across models.

LiteLLM's router hands the hook the healthy deployments of a model group (one per account); the
hook narrows them to one here:
1. drop accounts that are disabled, need a login or are quota-blocked, and — when others remain —
   accounts this request already tried (failover moves to the *next* account);
2. keep the highest `priority` tier (a numeric key in the credential file, default 0);
3. a conversation stays on the account it started on while that account is usable (prompt caches
   and encrypted reasoning are per account);
4. otherwise round-robin per model group (strict rotation, not a random shuffle), fill-first
   (always the first account by file name until it is blocked), or headroom: accounts past the soft
   limit in their tightest usage window are left out while any other remains, and of the rest the one
   whose room is cheapest to spend serves: the least used, where room that comes back at a reset soon
   counts as nearly free (HeadroomBook.pressure in gateway/headroom.py); equal pressure rotates like
   round-robin.

Affinity wins over the strategy: a conversation stays on its account past the soft limit, until the
account answers 429 (then it is blocked and left out in step 1, and the conversation moves).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

SESSION_TTL = 3600.0
MAX_SESSIONS = 50_000


@dataclass
class Candidate:
    deployment: dict[str, Any]
    account_id: str
    sort_key: str
    priority: int


def _no_usage(account_id: str) -> float:
    return 100.0


def _used(room: Callable[[str], float]) -> Callable[[str], float]:
    return lambda account_id: 100.0 - room(account_id)


@dataclass
class Selector:
    strategy: str = "round-robin"
    room: Callable[[str], float] = _no_usage  # percent left in the account's tightest window
    # how dear spending the account is now (HeadroomBook.pressure); by default its used percent
    pressure: Callable[[str], float] | None = None
    soft_limit: float = 90.0
    _cursor: dict[str, int] = field(default_factory=dict)
    _sessions: dict[str, tuple[str, float]] = field(default_factory=dict)

    def choose(
        self,
        group: str,
        candidates: list[Candidate],
        *,
        tried: set[str],
        session: str | None,
        provider: str,
    ) -> Candidate | None:
        if not candidates:
            return None
        fresh = [c for c in candidates if c.account_id not in tried]
        pool = fresh or candidates
        top = max(c.priority for c in pool)
        pool = sorted((c for c in pool if c.priority == top), key=lambda c: c.sort_key)
        key = f"{provider}::{session}" if session else None
        if key is not None:
            bound = self._sessions.get(key)
            if bound and bound[1] > time.monotonic():
                for c in pool:
                    if c.account_id == bound[0]:
                        self._bind(key, c.account_id)
                        return c
        if self.strategy == "fill-first":
            chosen = pool[0]
        else:
            if self.strategy == "headroom":
                pool = self._most_room(pool)
            n = self._cursor.get(group, 0)
            self._cursor[group] = n + 1
            chosen = pool[n % len(pool)]
        if key is not None:
            self._bind(key, chosen.account_id)
        return chosen

    def _most_room(self, pool: list[Candidate]) -> list[Candidate]:
        """The accounts cheapest to spend, preferring those under the soft limit; when every account is
        past it, still the one with most room (serving beats refusing before the hard limit)."""
        rooms = {c.account_id: self.room(c.account_id) for c in pool}
        floor = 100.0 - self.soft_limit
        under = [c for c in pool if rooms[c.account_id] > floor]
        if not under:
            best = max(rooms.values())
            return [c for c in pool if rooms[c.account_id] >= best - 1.0]
        pressure = self.pressure or _used(self.room)
        cost = {c.account_id: pressure(c.account_id) for c in under}
        least = min(cost.values())
        # within a point of the least counts as equal, so equally used accounts still take turns
        return [c for c in under if cost[c.account_id] <= least + 1.0]

    def _bind(self, key: str, account_id: str) -> None:
        if len(self._sessions) >= MAX_SESSIONS:
            now = time.monotonic()
            self._sessions = {k: v for k, v in self._sessions.items() if v[1] > now}
            if len(self._sessions) >= MAX_SESSIONS:
                self._sessions.clear()
        self._sessions[key] = (account_id, time.monotonic() + SESSION_TTL)


    def bound_account(self, provider: str, session: str) -> str | None:
        """The account a conversation lives on (gateway/usage_screens.py shows that account's usage)."""
        bound = self._sessions.get(f"{provider}::{session}")
        return bound[0] if bound and bound[1] > time.monotonic() else None


def candidates_from(
    deployments: list[dict[str, Any]], describe: Callable[[str], tuple[str, int] | None]
) -> list[Candidate]:
    """Deployments whose account `describe(account_id)` says is usable -> (sort key, priority)."""
    out = []
    for dep in deployments:
        acct_id = (dep.get("model_info") or {}).get("gw_account")
        info = describe(acct_id) if acct_id else None
        if info is not None:
            out.append(Candidate(dep, acct_id, info[0], info[1]))
    return out
