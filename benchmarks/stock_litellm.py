"""`python -m benchmarks.stock_litellm [--n 300]`: stock LiteLLM vs both gateway entry points vs direct, in one run.

The +6.3 ms often quoted for stock LiteLLM 1.108.7, measured on another machine. This puts the three
side by side on this one: the fake Anthropic API directly, stock `litellm --config` with the token
as a static key (no hook, no gateway layers), the gateway's plug-in path (`litellm --config
config/litellm.yaml`: the hook and account pool inside LiteLLM's proxy) and `python -m gateway.amp`. Requests are
interleaved one by one so machine load hits all three alike; CPU per request comes from /proc.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.processes import FakeUpstreams, GatewayUnderTest, cpu_seconds
from benchmarks.scenarios import CLAUDE_MODEL, Endpoints, gateway_env
from tests.servers import free_port

STOCK_CONFIG = """model_list:
  - model_name: {model}
    litellm_params: {{model: anthropic/{model}, api_base: "{base}", api_key: "{token}"}}
general_settings:
  dangerously_permit_weak_or_unset_master_key: true
"""


def _start_stock(tmp: Path, fakes: FakeUpstreams, token: str) -> tuple[subprocess.Popen, str]:
    config = tmp / "stock.yaml"
    config.write_text(STOCK_CONFIG.format(model=CLAUDE_MODEL, base=fakes.url, token=token))
    port = free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "true"}
    litellm_cli = Path(sys.executable).parent / "litellm"
    proc = subprocess.Popen([str(litellm_cli), "--config", str(config), "--port", str(port), "--host", "127.0.0.1"],
                            env=env, stdout=open(tmp / "stock.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health/liveliness", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("stock litellm did not start")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stock_litellm")
    p.add_argument("--n", type=int, default=300)
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    fakes = FakeUpstreams(free_port(), tmp / "fakes.log").start()
    stock = gateway = plugin = None
    try:
        token = fakes.info["claude"]["access_token"]
        env = gateway_env(fakes.url, fakes.info, tmp)
        gateway = GatewayUnderTest(env, free_port(), 1, tmp / "gateway.log")
        ep = Endpoints(fakes.url, gateway.url, token, fakes.info["codex"]["access_token"], fakes.info["codex"]["account_id"])
        probe = ep.messages(False)
        gateway.start(("/v1/messages", probe.headers, probe.body))
        plugin = GatewayUnderTest(env, free_port(), 1, tmp / "plugin.log", entry="plugin")
        plugin.start(("/v1/messages", probe.headers, probe.body))
        stock, stock_url = _start_stock(tmp, fakes, token)
        direct, through = ep.anthropic_direct(False), ep.messages(False)
        calls = {"direct": (direct.url, direct.headers), "stock litellm": (stock_url + "/v1/messages", through.headers),
                 "plug-in": (plugin.url + "/v1/messages", through.headers), "gateway": (through.url, through.headers)}
        pids = {"stock litellm": [stock.pid], "plug-in": plugin.pids()[-1:], "gateway": gateway.pids()[-1:]}
        times: dict[str, list[float]] = {k: [] for k in calls}
        with httpx.Client(timeout=30) as client:
            for _ in range(30):
                for url, headers in calls.values():
                    client.post(url, headers=headers, content=through.body if url != direct.url else direct.body).read()
            cpu0 = {k: sum(cpu_seconds(pid) for pid in v) for k, v in pids.items()}
            for _ in range(args.n):
                for name, (url, headers) in calls.items():
                    body = direct.body if name == "direct" else through.body
                    t0 = time.perf_counter()
                    r = client.post(url, headers=headers, content=body)
                    r.read()
                    times[name].append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        raise RuntimeError(f"{name}: {r.status_code} {r.text[:200]}")
            cpu = {k: (sum(cpu_seconds(pid) for pid in v) - cpu0[k]) / args.n * 1000 for k, v in pids.items()}
        base = statistics.median(times["direct"])
        print(f"/v1/messages non-stream, n={args.n} interleaved, load {os.getloadavg()[0]:.2f}")
        for name, values in times.items():
            values.sort()
            med, p99 = statistics.median(values), values[int(len(values) * 0.99) - 1]
            extra = f"  added {med - base:6.2f} ms  CPU/request {cpu[name]:5.2f} ms" if name in cpu else ""
            print(f"  {name:14s} median {med:6.2f} ms  p99 {p99:6.2f} ms{extra}")
        return 0
    finally:
        if stock is not None:
            stock.terminate()
            stock.wait(15)
        for started in (gateway, plugin):
            if started is not None:
                started.stop()
        fakes.stop()


if __name__ == "__main__":
    sys.exit(main())
