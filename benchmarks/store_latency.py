"""What the Redis store adds next to the auth-dir file store: per store operation, and per request.

Part 1 times the store operations the gateway performs (gateway/store/): the work one token refresh
adds (take the lock, re-read the credential, write the new one, release), one usage flush, publishing
and reading quota blocks, and the background look for other hosts' changes. Part 2 starts two real
gateways on the benchmark fakes, one on auth-dir files and one on Redis (the same accounts imported
with `gateway.store.transfer.import_dir`), and alternates sequential `/v1/messages` calls between them.

    .venv/bin/python -m benchmarks.store_latency --n 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx

from benchmarks.bench import machine
from benchmarks.measure import full_request, summary
from benchmarks.processes import FakeUpstreams, GatewayUnderTest
from benchmarks.scenarios import Endpoints, gateway_env
from gateway.store import Store, open_store
from gateway.store.transfer import import_dir
from tests.redis_server import RedisServer
from tests.servers import free_port

NAME = "claude-bench@example.com.json"
CRED = {"type": "claude", "email": "bench@example.com", "access_token": "at", "refresh_token": "rt",
        "expired": "2030-01-01T00:00:00Z"}
DELTA = {"accounts": {"a1": {"email": "bench@example.com", "provider": "claude",
                             "models": {"m": {"requests": 3, "input_tokens": 300, "output_tokens": 30}}}},
         "hours": [[int(time.time() // 3600) * 3600, 3, 330, 0]], "recent_errors": []}


async def _time(n: int, op: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(min(20, n)):
        await op()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        await op()
        samples.append((time.perf_counter() - t0) * 1000)
    return summary(samples)


async def store_ops(store: Store, n: int) -> dict[str, Any]:
    await store.put_credential(NAME, CRED)

    async def refresh_work() -> None:
        async with store.refresh_lock(NAME):
            data = await store.fetch_credential(NAME)
            await store.put_credential(NAME, {**(data or CRED), "last_refresh": str(time.time())})

    async def blocks() -> None:
        await store.put_block("a1", time.time() + 60)
        await store.blocks()

    return {"refresh (lock, re-read, write, release)": await _time(n, refresh_work),
            "usage flush (add a delta, read totals)": await _time(n, lambda: store.add_usage(DELTA)),
            "quota block (publish + read all)": await _time(n, blocks),
            "look for other hosts' changes (pull)": await _time(n, store.pull)}


def part1(n: int, tmp: Path, redis: RedisServer) -> dict[str, Any]:
    (tmp / "files").mkdir(mode=0o700)
    out = {}
    for kind, store in (("files", open_store("", tmp / "files")), ("redis", open_store(redis.url, tmp / "spool"))):
        async def run(store: Store = store) -> dict[str, Any]:
            try:
                return await store_ops(store, n)
            finally:
                await store.aclose()

        out[kind] = asyncio.run(run())
    return out


def alternated(one: Callable[[], float], two: Callable[[], float], n: int, warmup: int) -> tuple[list[float], list[float]]:
    """Like measure.paired, but each side goes first every other round: the side that runs second
    would otherwise share the CPU with the first gateway's after-response work (logging, usage)."""
    for _ in range(warmup):
        one()
        two()
    a: list[float] = []
    b: list[float] = []
    for i in range(n):
        if i % 2:
            b.append(two())
            a.append(one())
        else:
            a.append(one())
            b.append(two())
    return a, b


def part2(n: int, tmp: Path, redis: RedisServer) -> dict[str, Any]:
    fakes = FakeUpstreams(free_port(), tmp / "fakes.log")
    gateways: list[GatewayUnderTest] = []
    try:
        fakes.start()
        env = gateway_env(fakes.url, fakes.info, tmp)
        store = open_store(redis.url, tmp / "import-spool")
        asyncio.run(import_dir(tmp / "auth", store))
        asyncio.run(store.aclose())
        for kind, extra in (("files", {}), ("redis", {"SUBGATE_STORE": redis.url})):
            root = tmp / f"gw-{kind}"
            (root / "auth").mkdir(parents=True, mode=0o700)
            gw_env = {**env, **extra} if kind == "files" else {**env, **extra, "SUBGATE_AUTH_DIR": str(root / "auth")}
            gateways.append(GatewayUnderTest(gw_env, free_port(), 1, root / "gateway.log"))
        eps = [Endpoints(fakes.url, gw.url, fakes.info["claude"]["access_token"], fakes.info["codex"]["access_token"],
                         fakes.info["codex"]["account_id"]) for gw in gateways]
        for gw, ep in zip(gateways, eps):
            probe = ep.messages(False)
            gw.start(("/v1/messages", probe.headers, probe.body), timeout=300)
        results: dict[str, Any] = {}
        with httpx.Client(timeout=60) as a, httpx.Client(timeout=60) as b:
            for stream in (False, True):
                calls = [ep.messages(stream) for ep in eps]
                files, red = alternated(lambda: full_request(a, calls[0]), lambda: full_request(b, calls[1]), n, 30)
                label = "streamed" if stream else "not streamed"
                results[f"/v1/messages {label}"] = {"files": summary(files), "redis": summary(red)}
        return results
    finally:
        for gw in gateways:
            gw.stop()
            if os.environ.get("BENCH_KEEP_LOG"):
                shutil.copy(gw.log_path, Path(os.environ["BENCH_KEEP_LOG"]) / f"{gw.log_path.parent.name}.log")
        fakes.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.store_latency", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300, help="samples per operation and per side (default 300)")
    p.add_argument("--json", default="benchmarks/last_run_store.json", help="where to write the results")
    args = p.parse_args(argv)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="subgate-store-bench-") as name:
        tmp = Path(name)
        with RedisServer(tmp / "redis") as redis:
            info["redis"] = redis.command("INFO", "server").decode(errors="replace").split("redis_version:")[1].split()[0]
            ops = part1(args.n, tmp, redis)
            redis.command("FLUSHALL")  # part 1's test account must not join part 2's pool
            requests = part2(args.n, tmp, redis)
    info["loadavg_after"] = os.getloadavg()
    result = {"machine": info, "args": vars(args), "store_ops_ms": ops, "requests_ms": requests}
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"machine: {info['cpu']} x{info['nproc']}, load before {info['loadavg_before']}, after {info['loadavg_after']}")
    for kind in ("files", "redis"):
        for op, s in ops[kind].items():
            print(f"{kind:<6} {op:<45} median {s['median']:7.2f} ms  p99 {s['p99']:7.2f} ms")
    for route, sides in requests.items():
        f, r = sides["files"], sides["redis"]
        print(f"{route:<32} files median {f['median']:6.1f} p99 {f['p99']:6.1f} | redis median {r['median']:6.1f} "
              f"p99 {r['p99']:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
