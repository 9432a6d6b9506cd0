"""Client-side timing: sequential latency, time to first SSE event, concurrent load, per-event gaps.

Direct and gateway calls are interleaved request by request (`paired`), so background load on a shared
machine hits both sides equally and "added" is a difference of like with like. All clocks are
`time.perf_counter` except the stream gap, which compares the fake's `time.time()` stamp with ours.
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

STAMP = re.compile(rb"(?:t=|@)(\d{9,}\.\d{6})\]")


class CallFailed(RuntimeError):
    """A benchmark request did not answer 200: the phase is reported as failed, never as a number."""


@dataclass(frozen=True)
class Call:
    """One request the benchmark repeats: where, with what headers and body, streamed or not."""

    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool = False


def summary(samples: list[float]) -> dict[str, float]:
    """Median and nearest-rank p99 in milliseconds."""
    if not samples:
        return {"n": 0, "median": math.nan, "p99": math.nan, "max": math.nan}
    ordered = sorted(samples)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return {"n": len(ordered), "median": statistics.median(ordered), "p99": p99, "max": ordered[-1]}


def _fail(r: httpx.Response, body: bytes) -> CallFailed:
    return CallFailed(f"{r.request.method} {r.request.url} -> {r.status_code}: {body[:400]!r}")


def full_request(client: httpx.Client, call: Call) -> float:
    """Milliseconds from send to the last body byte (a streamed reply is read to its end)."""
    t0 = time.perf_counter()
    with client.stream("POST", call.url, headers=call.headers, content=call.body) as r:
        body = r.read()
    elapsed = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise _fail(r, body)
    return elapsed


def first_event(client: httpx.Client, call: Call) -> float:
    """Milliseconds from send to the first complete SSE event (`\\n\\n`); the rest is drained untimed."""
    t0 = time.perf_counter()
    with client.stream("POST", call.url, headers=call.headers, content=call.body) as r:
        if r.status_code != 200:
            raise _fail(r, r.read())
        buf = b""
        elapsed = math.nan
        chunks = r.iter_raw()
        for chunk in chunks:
            buf += chunk
            if b"\n\n" in buf:
                elapsed = (time.perf_counter() - t0) * 1000
                break
        for _ in chunks:  # the same iterator: drain what is left so the connection can be reused
            pass
    if math.isnan(elapsed):
        raise CallFailed(f"{call.url}: stream ended without an SSE event: {buf[:300]!r}")
    return elapsed


def paired(direct: Callable[[], float], gateway: Callable[[], float], n: int, warmup: int) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        direct()
        gateway()
    d, g = [], []
    for _ in range(n):
        d.append(direct())
        g.append(gateway())
    return d, g


def stream_gaps(client: httpx.Client, call: Call) -> dict[str, Any]:
    """Per-event gap between the fake's send stamp and our receipt, plus the whole stream's duration."""
    gaps: list[float] = []
    t0 = time.perf_counter()
    with client.stream("POST", call.url, headers=call.headers, content=call.body) as r:
        if r.status_code != 200:
            raise _fail(r, r.read())
        buf = b""
        for chunk in r.iter_raw():
            now = time.time()
            buf += chunk
            events = buf.split(b"\n\n")
            buf = events.pop()
            for event in events:
                m = STAMP.search(event)
                if m:
                    gaps.append((now - float(m.group(1))) * 1000)
    return {"events": len(gaps), "duration_ms": (time.perf_counter() - t0) * 1000, **summary(gaps)}


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    wall: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        total = len(self.latencies) + self.errors
        return {"requests": total, "errors": self.errors, "first_error": self.first_error,
                "rps": total / self.wall if self.wall else 0.0, **summary(self.latencies)}


async def load(call: Call, clients: int, total: int, timeout: float = 60) -> dict[str, Any]:
    """`clients` tasks, each with its own keep-alive AsyncClient (one connection), share `total` requests.

    One client per task, like independent agents: a single shared httpx pool of 64 connections
    collapses to ~120 req/s on this machine (httpcore's pool, not the server), which would hide
    the gateway behind the client. Each client's first request opens its connection and is untimed."""
    result = LoadResult()
    remaining = total

    async def one(client: httpx.AsyncClient, timed: bool) -> None:
        t0 = time.perf_counter()
        try:
            r = await client.post(call.url, headers=call.headers, content=call.body)
            if r.status_code != 200:
                raise CallFailed(f"{r.status_code}: {r.text[:300]}")
            if timed:
                result.latencies.append((time.perf_counter() - t0) * 1000)
        except (httpx.HTTPError, CallFailed) as exc:
            result.errors += 1
            result.first_error = result.first_error or repr(exc)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one(client, True)

    pool = [httpx.AsyncClient(timeout=timeout) for _ in range(clients)]
    try:
        await asyncio.gather(*(one(c, False) for c in pool))
        if result.errors:
            raise CallFailed(f"warm-up failed: {result.first_error}")
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in pool))
        result.wall = time.perf_counter() - t0
    finally:
        for client in pool:
            await client.aclose()
    return result.as_dict()
