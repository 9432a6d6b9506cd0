"""`python -m benchmarks.ab TREE_A TREE_B [--n 60] [--rounds 6] [--endpoints messages,...]`

CPU per request of two gateway trees (say, `git archive HEAD~1` unpacked in /tmp/a and the working
tree), both running against the same fakes at the same time, measured round by round in alternating
order. On a shared 2-core machine the absolute CPU of a request moves by ±20% from minute to minute;
the ratio B/A within a round does not, so a tuning change is judged by the median of those ratios.
`A_ENV` / `B_ENV` (`NAME=value,NAME=value`) give one side extra environment, to compare a setting
on one tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.measure import Call
from benchmarks.processes import FakeUpstreams, GatewayUnderTest, cpu_seconds
from benchmarks.scenarios import CLAUDE_MODEL, GPT_MODEL, Endpoints, gateway_env
from tests.servers import free_port

ENDPOINTS = ("messages", "messages-stream", "chat-claude", "chat-gpt", "responses", "responses-stream")


def calls(ep: Endpoints) -> dict[str, Call]:
    return {"messages": ep.messages(False), "messages-stream": ep.messages(True),
            "chat-claude": ep.chat(CLAUDE_MODEL, False), "chat-gpt": ep.chat(GPT_MODEL, False),
            "responses": ep.responses(False), "responses-stream": ep.responses(True)}


def _side_env(label: str) -> dict[str, str]:
    pairs = [kv for kv in os.environ.get(f"{label}_ENV", "").split(",") if kv]
    return dict(kv.split("=", 1) for kv in pairs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab")
    p.add_argument("tree_a", type=Path)
    p.add_argument("tree_b", type=Path)
    p.add_argument("--n", type=int, default=60, help="requests per endpoint, side and round")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--endpoints", default=",".join(ENDPOINTS))
    args = p.parse_args(argv)
    names = [n for n in args.endpoints.split(",") if n]
    tmp = Path(tempfile.mkdtemp())
    fakes = FakeUpstreams(free_port(), tmp / "fakes.log").start()
    sides: dict[str, tuple[GatewayUnderTest, Endpoints]] = {}
    try:
        env = gateway_env(fakes.url, fakes.info, tmp)
        for label, tree in (("A", args.tree_a.resolve()), ("B", args.tree_b.resolve())):
            gw = GatewayUnderTest({**env, **_side_env(label), "PYTHONPATH": str(tree)}, free_port(), 1,
                                  tmp / f"gateway-{label}.log", root=tree)
            ep = Endpoints(fakes.url, gw.url, fakes.info["claude"]["access_token"],
                           fakes.info["codex"]["access_token"], fakes.info["codex"]["account_id"])
            probe = ep.messages(False)
            gw.start(("/v1/messages", probe.headers, probe.body))
            print(f"{label}: {tree}  start-up {gw.startup_seconds:.2f} s, {gw.startup_cpu_seconds:.2f} CPU-s", flush=True)
            sides[label] = (gw, ep)
        cpu: dict[tuple[str, str], list[float]] = {(label, n): [] for label in sides for n in names}
        with httpx.Client(timeout=30) as client:
            for gw, ep in sides.values():
                for n in names:
                    call = calls(ep)[n]
                    for _ in range(15):
                        client.post(call.url, headers=call.headers, content=call.body).read()
            for round_ in range(args.rounds):
                for n in names:
                    for label in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                        gw, ep = sides[label]
                        call, pid = calls(ep)[n], gw.pids()[-1]
                        before = cpu_seconds(pid)
                        for _ in range(args.n):
                            r = client.post(call.url, headers=call.headers, content=call.body)
                            r.read()
                            if r.status_code != 200:
                                raise RuntimeError(f"{label} {n}: {r.status_code} {r.text[:300]}")
                        time.sleep(0.05)  # the success logging of the last request lands in this round
                        cpu[(label, n)].append((cpu_seconds(pid) - before) / args.n * 1000)
        print(f"CPU per request, median of {args.rounds} rounds x {args.n} requests "
              f"(load {os.getloadavg()[0]:.2f}):")
        for n in names:
            a, b = cpu[("A", n)], cpu[("B", n)]
            ratio = statistics.median(y / x for x, y in zip(a, b))
            print(f"  {n:17s} A {statistics.median(a):6.2f} ms   B {statistics.median(b):6.2f} ms   B/A {ratio:.3f}")
        for label, (gw, _) in sides.items():
            print(f"{label}: RSS after the run {gw.memory()['max_worker_rss_mb']} MB")
        return 0
    finally:
        for gw, _ in sides.values():
            gw.stop()
        fakes.stop()


if __name__ == "__main__":
    raise SystemExit(main())
