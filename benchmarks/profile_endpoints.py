"""`python -m benchmarks.profile_endpoints OUT.txt [--tree .] [--endpoints messages,chat-gpt] [--seconds 20]`

py-spy over one gateway worker while it serves the chosen endpoints (benchmarks/ab.py's names) one
request after another, round-robin. `benchmarks.bench --profile` samples `/v1/messages` only; this
samples any mix, so a change to the Responses or chat path can be looked at on its own. Summarise
with `python -m benchmarks.profile_summary OUT.txt --requests N` (N is printed at the end). Needs
`py-spy==0.4.3` in the venv. Shares are what matter on a loaded machine, not the milliseconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.ab import ENDPOINTS, calls
from benchmarks.measure import full_request
from benchmarks.processes import FakeUpstreams, GatewayUnderTest
from benchmarks.scenarios import Endpoints, gateway_env
from tests.servers import free_port


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_endpoints")
    p.add_argument("out", type=Path, help="py-spy output: raw collapsed stacks (.txt) or a flamegraph (.svg)")
    p.add_argument("--tree", type=Path, default=Path("."))
    p.add_argument("--endpoints", default=",".join(ENDPOINTS))
    p.add_argument("--seconds", type=int, default=20)
    args = p.parse_args(argv)
    names = [n for n in args.endpoints.split(",") if n]
    tree = args.tree.resolve()
    tmp = Path(tempfile.mkdtemp())
    fakes = FakeUpstreams(free_port(), tmp / "fakes.log").start()
    gw: GatewayUnderTest | None = None
    try:
        env = gateway_env(fakes.url, fakes.info, tmp)
        gw = GatewayUnderTest({**env, "PYTHONPATH": str(tree)}, free_port(), 1, tmp / "gateway.log", root=tree)
        ep = Endpoints(fakes.url, gw.url, fakes.info["claude"]["access_token"],
                       fakes.info["codex"]["access_token"], fakes.info["codex"]["account_id"])
        probe = ep.messages(False)
        gw.start(("/v1/messages", probe.headers, probe.body))
        chosen = [calls(ep)[n] for n in names]
        with httpx.Client(timeout=30) as client:
            for call in chosen * 10:  # every route's code loaded before sampling starts
                full_request(client, call)
            spy = Path(sys.executable).with_name("py-spy")
            fmt = "flamegraph" if args.out.suffix == ".svg" else "raw"
            worker = next(p["pid"] for p in gw.memory()["processes"] if p["role"] == "worker")
            proc = subprocess.Popen([str(spy), "record", "--pid", str(worker), "--duration", str(args.seconds),
                                     "--rate", "500", "--nonblocking", "--full-filenames", "--format", fmt,
                                     "-o", str(args.out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + args.seconds - 1
            i = 0
            while time.monotonic() < deadline:
                full_request(client, chosen[i % len(chosen)])
                i += 1
            proc.wait(args.seconds + 30)
        print(f"{args.out}: {i} requests; python -m benchmarks.profile_summary {args.out} --requests {i}")
        return 0
    finally:
        if gw is not None:
            gw.stop()
        fakes.stop()


if __name__ == "__main__":
    raise SystemExit(main())
