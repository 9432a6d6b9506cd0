"""Opt-in soak: 64 clients for minutes on two Claude and two Codex accounts, while tokens expire and
accounts hit their quota. Nothing may be lost but the 429s the gateway owes when every account of a
model is blocked, no refresh token may be spent twice, and the gateway's memory must stay flat.

    SUBGATE_OPTIN=1 SUBGATE_SOAK_SECONDS=180 .venv/bin/pytest tests/hardening/test_soak.py -q -s

Default 180 s, at most 600 s. RSS (VmRSS of the gateway process) is sampled every 10 s; after a
warm-up (a third of the run, at most 30 s) the last sample must be within 25 % of the first.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ClaudeStack, CodexStack
from tests.gateway_process import GatewayProcess
from tests.hardening.client_view import parse_sse, stream_completed, stream_error
from tests.hardening.conftest import fast_accounts_for

pytestmark = pytest.mark.skipif(os.environ.get("SUBGATE_OPTIN") != "1", reason="opt-in soak: set SUBGATE_OPTIN=1")

SECONDS = min(600.0, float(os.environ.get("SUBGATE_SOAK_SECONDS", "180")))
CLIENTS = 64
RSS_EVERY = 10.0
EXPIRE_EVERY = 5.0
QUOTA_EVERY = 7.0
MSG = [{"role": "user", "content": "hello"}]
ROUTES = [
    ("/v1/messages", "claude", lambda s: {"model": "claude-sonnet-4-5-20250929", "max_tokens": 64, "messages": MSG,
                                         "stream": s}),
    ("/v1/chat/completions", "claude", lambda s: {"model": "claude-haiku-4-5-20251001", "messages": MSG, "stream": s}),
    ("/v1/chat/completions", "codex", lambda s: {"model": "gpt-5.1", "messages": MSG, "stream": s}),
    ("/v1/responses", "codex", lambda s: {"model": "gpt-5.1-codex", "input": "hello", "stream": s}),
]


@dataclass
class Tally:
    outcomes: Counter = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    rss_kb: list[tuple[float, int]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def one_request(client: httpx.AsyncClient, rng: random.Random, tally: Tally) -> None:
    path, provider, body = rng.choice(ROUTES)
    stream = rng.random() < 0.5
    t0 = time.monotonic()
    try:
        async with client.stream("POST", path, json=body(stream), headers={"anthropic-version": "2023-06-01"}) as r:
            raw = await r.aread()
    except httpx.HTTPError as exc:
        tally.lost.append(f"{path} {provider} stream={stream}: {type(exc).__name__} {exc}")
        return
    tally.latencies.append(time.monotonic() - t0)
    kind = f"{provider} {path} {'stream' if stream else 'json'}"
    if r.status_code == 429 and r.headers.get("retry-after"):
        tally.outcomes[f"429 {provider}"] += 1  # every account of the model blocked: the answer owed
        return
    ok = r.status_code == 200 and (
        (stream and stream_completed(parse_sse(raw)) and stream_error(parse_sse(raw)) is None)
        or (not stream and b'"id"' in raw)
    )
    if ok:
        tally.outcomes["ok"] += 1
    else:
        tally.lost.append(f"{kind}: {r.status_code} {raw[-300:]!r}")


async def soak(gw: GatewayProcess, claude: ClaudeStack, codex: CodexStack, emails: dict[str, list[str]]) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + SECONDS
    rng = random.Random()
    limits = httpx.Limits(max_connections=CLIENTS * 2, max_keepalive_connections=CLIENTS)

    async def client_loop(n: int) -> None:
        local = random.Random(n)
        async with httpx.AsyncClient(base_url=gw.url, timeout=60, limits=limits, trust_env=False) as client:
            while time.monotonic() < deadline:
                await one_request(client, local, tally)

    async def expiries() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(EXPIRE_EVERY)
            provider = rng.choice(["claude", "codex"])
            (claude.book if provider == "claude" else codex.book).expire_email(rng.choice(emails[provider]))
            tally.outcomes["expiries"] += 1

    async def quota_blocks() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(QUOTA_EVERY)
            email = rng.choice(emails["claude"] + emails["codex"])
            if email in emails["claude"]:
                claude.api.recorder.script({"status": 429, "reset_in": 2}, account=email)
            else:
                codex.api.recorder.script({"status": 429, "resets_in_seconds": 2}, account=email)
            tally.outcomes["quota blocks"] += 1

    async def rss() -> None:
        start = time.monotonic()
        while time.monotonic() < deadline:
            tally.rss_kb.append((time.monotonic() - start, rss_kb(gw.proc.pid)))  # type: ignore[union-attr]
            await asyncio.sleep(RSS_EVERY)
        tally.rss_kb.append((time.monotonic() - start, rss_kb(gw.proc.pid)))  # type: ignore[union-attr]

    await asyncio.gather(*(client_loop(n) for n in range(CLIENTS)), expiries(), quota_blocks(), rss())
    return tally


def test_soak_64_clients_with_expiries_and_quota_blocks(gateway: GatewayProcess, auth_dir: Path,
                                                        claude_stack: ClaudeStack, codex_stack: CodexStack) -> None:
    reused_before = claude_stack.book.reuse_count + codex_stack.book.reuse_count
    for accounts in fast_accounts_for(auth_dir, claude_stack, codex_stack):
        emails = {p: [accounts.add(p).email for _ in range(2)] for p in ("claude", "codex")}
        t0 = time.monotonic()
        tally = asyncio.run(soak(gateway, claude_stack, codex_stack, emails))
        elapsed = time.monotonic() - t0
    total = sum(v for k, v in tally.outcomes.items() if k == "ok" or k.startswith("429"))
    lat = sorted(tally.latencies) or [0.0]
    warm = min(30.0, SECONDS / 3)
    after = [kb for t, kb in tally.rss_kb if t >= warm] or [tally.rss_kb[-1][1]]
    refreshes = sum(claude_stack.book.refreshes_by_email.get(e, 0) for e in emails["claude"]) + sum(
        codex_stack.book.refreshes_by_email.get(e, 0) for e in emails["codex"])
    print(f"\nsoak {elapsed:.0f} s, {CLIENTS} clients: {total + len(tally.lost)} requests "
          f"({total / elapsed:.0f}/s), {dict(tally.outcomes)}, lost {len(tally.lost)}, refreshes {refreshes}, "
          f"latency p50 {lat[len(lat) // 2] * 1000:.0f} ms p99 {lat[int(len(lat) * 0.99)] * 1000:.0f} ms, "
          f"RSS MB {[round(kb / 1024) for _, kb in tally.rss_kb]}")
    assert not tally.lost, tally.lost[:5]
    assert tally.outcomes["ok"] > 0
    assert claude_stack.book.reuse_count + codex_stack.book.reuse_count == reused_before
    assert after[-1] <= after[0] * 1.25, tally.rss_kb
