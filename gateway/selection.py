"""Which account serves an attempt: account-level, so quota, affinity and order hold across models.

LiteLLM's router hands the hook the healthy deployments of a model group (one per account); the
hook narrows them to one here:
1. drop accounts that are disabled, need a login or are quota-blocked, and — when others remain —
   accounts this request already tried (failover moves to the *next* account);
2. keep the highest `priority` tier (a numeric key in the credential file, default 0);
3. a conversation stays on the account it started on while that account is usable (prompt caches
   and encrypted reasoning are per account);
4. otherwise round-robin per model group (strict rotation, not a random shuffle), or fill-first
   (always the first account by file name until it is blocked).
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


@dataclass
class Selector:
    strategy: str = "round-robin"
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
            n = self._cursor.get(group, 0)
            self._cursor[group] = n + 1
            chosen = pool[n % len(pool)]
        if key is not None:
            self._bind(key, chosen.account_id)
        return chosen

    def _bind(self, key: str, account_id: str) -> None:
        if len(self._sessions) >= MAX_SESSIONS:
            now = time.monotonic()
            self._sessions = {k: v for k, v in self._sessions.items() if v[1] > now}
            if len(self._sessions) >= MAX_SESSIONS:
                self._sessions.clear()
        self._sessions[key] = (account_id, time.monotonic() + SESSION_TTL)


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
