"""/metrics in the Prometheus text format (0.0.4), rendered from the usage book and the account store.

Accounts are labelled by email (operators recognise them; emails are not secrets); set
SUBGATE_METRICS_ACCOUNT_LABEL=id to use the opaque account id instead. Counters come from the
usage book, so they survive restarts like the statistics do.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable

from gateway.account_view import STATES, account_state
from gateway.usage import TOKEN_KINDS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value}" for labels, value in samples]
    return lines


def render(rt: Any, *, label_by: str | None = None) -> str:
    label_by = label_by or os.environ.get("SUBGATE_METRICS_ACCOUNT_LABEL", "email")
    now = time.time()
    usage = rt.usage_view()

    def name_of(account_id: str) -> str:
        if label_by == "id":
            return account_id
        info = usage.accounts.get(account_id)
        acct = rt.store.get(account_id)
        return (acct.email if acct else "") or (info.email if info else "") or account_id

    requests, tokens = [], []
    for (account_id, model), cell in sorted(usage.tallies.items()):
        info = usage.accounts.get(account_id)
        base = {"provider": info.provider if info else "", "model": model, "account": name_of(account_id)}
        failed = sum(cell.errors.values())
        requests.append((_labels(**base, status="ok"), cell.requests - failed))
        for kind, n in sorted(cell.errors.items()):
            requests.append((_labels(**base, status=kind), n))
        for kind in TOKEN_KINDS:
            tokens.append((_labels(**base, kind=kind), getattr(cell, kind)))

    blocked, states, until = [], [], []
    for acct in rt.store.accounts():
        label = acct.id if label_by == "id" else acct.email
        state = account_state(rt, acct, now)
        blocked.append((_labels(provider=acct.provider, account=label), 1 if state == "blocked" else 0))
        for s in STATES:
            states.append((_labels(provider=acct.provider, account=label, state=s), 1 if s == state else 0))
        reset = rt.quota.blocked_until(acct.id, now)
        until.append((_labels(provider=acct.provider, account=label), int(reset or 0)))

    used, resets, estimated = [], [], []
    for acct in rt.store.accounts():
        label = acct.id if label_by == "id" else acct.email
        for window, now_w in rt.headroom.windows(acct.id, now).items():
            base = _labels(provider=acct.provider, account=label, window=window)
            used.append((base, round(now_w.used_percent, 2)))
            resets.append((base, int(now_w.resets_at or 0)))
            estimated.append((base, 1 if now_w.estimated else 0))

    lines: list[str] = []
    lines += _family("subgate_requests_total", "counter",
                     "Upstream attempts per account and model, by outcome (ok or error kind).", requests)
    lines += _family("subgate_tokens_total", "counter", "Tokens reported by the upstream, by kind.", tokens)
    lines += _family("subgate_account_blocked", "gauge", "1 while the account is blocked by a quota limit.", blocked)
    lines += _family("subgate_account_state", "gauge", "1 for the account's current state.", states)
    lines += _family("subgate_account_blocked_until_seconds", "gauge",
                     "Unix time the account's quota block lifts (0 when not blocked).", until)
    lines += _family("subgate_account_usage_percent", "gauge",
                     "Percent used of the account's 5-hour or weekly window, from the upstream's usage headers.", used)
    lines += _family("subgate_account_usage_resets_at_seconds", "gauge",
                     "Unix time the window resets (0 when the upstream gave none).", resets)
    lines += _family("subgate_account_usage_estimated", "gauge",
                     "1 when the figure is estimated (old reading, or the window has reset since), 0 when fresh.", estimated)
    return "\n".join(lines) + "\n"
