"""`python -m benchmarks.bench [--n 300] [--concurrency 64] [--workers 1|2] [--entry gateway|plugin] [--quick]`

One run starts the fake upstreams (own process), writes one Claude and one Codex account to a temp
auth-dir, starts the real gateway (`python -m gateway.amp`, timed from spawn to its first 200 on a
real request; `--entry plugin` runs `litellm --config config/litellm.yaml` instead, the plug-in
path), then measures every phase direct-to-fake and through the gateway and prints them side
by side with the issue-7 targets. The client, the fakes and the gateway are three processes, so on a
2-core machine all three compete for the cores exactly as a coding agent, its gateway and a remote
upstream would not: the numbers are an upper bound on what the gateway adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import httpx

from benchmarks import report
from benchmarks.measure import Call, CallFailed, first_event, full_request, load, paired, stream_gaps, summary
from benchmarks.processes import ENTRIES, FakeUpstreams, GatewayUnderTest, cpu_seconds
from benchmarks.scenarios import CLAUDE_MODEL, GPT_MODEL, Endpoints, gateway_env
from tests.servers import free_port

DEFAULT_JSON = Path(__file__).resolve().parent / "last_run_w{workers}{suffix}.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300, help="sequential requests per phase (default 300)")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent clients (default 64)")
    p.add_argument("--load-requests", type=int, default=None, help="requests in the load phase (default 20 per client)")
    p.add_argument("--workers", type=int, default=1, choices=(1, 2, 3, 4), help="gateway workers (default 1)")
    p.add_argument("--entry", default="gateway", choices=ENTRIES,
                   help="gateway: python -m gateway.amp (default); plugin: litellm --config config/litellm.yaml")
    p.add_argument("--events", type=int, default=2000, help="events in the long stream (default 2000)")
    p.add_argument("--interval-ms", type=float, default=1.0, help="pause between long-stream events (default 1)")
    p.add_argument("--quick", action="store_true", help="smoke run: n=50, 320 load requests, 300 events")
    p.add_argument("--json", default=None, help="where to write the results (default benchmarks/last_run_w<workers>.json)")
    p.add_argument("--profile", default=None, metavar="SVG",
                   help="after the run, py-spy the gateway worker during 20 s of sequential /v1/messages calls "
                        "(.svg: flamegraph, else collapsed stacks)")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.events = min(args.n, 50), min(args.events, 300)
        args.load_requests = args.load_requests or 5 * args.concurrency
    args.load_requests = args.load_requests or 20 * args.concurrency
    return args


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "nproc": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version(), "litellm": metadata.version("litellm"),
            "uvicorn": metadata.version("uvicorn"), "httpx": metadata.version("httpx"),
            "loadavg_before": os.getloadavg(), "git": _git_state()}


def _git_state() -> str:
    """HEAD and whether the tree had uncommitted changes: the numbers belong to that code (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=Path(__file__).parent,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def _phase(name: str, results: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> None:
    """Run one phase; a gateway answer other than 200 is recorded as the phase's result, not a crash."""
    t0 = time.monotonic()
    try:
        results[name] = fn()
    except (CallFailed, httpx.HTTPError) as exc:
        results[name] = {"error": f"failed: {str(exc)[:300]}"}
    print(f"  {name}: {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    info = machine()
    fakes = FakeUpstreams(free_port(), tmp / "fakes.log")
    gateway: GatewayUnderTest | None = None
    try:
        fakes.start()
        env = gateway_env(fakes.url, fakes.info, tmp)
        gateway = GatewayUnderTest(env, free_port(), args.workers, tmp / "gateway.log", entry=args.entry)
        ep = Endpoints(fakes.url, gateway.url, fakes.info["claude"]["access_token"],
                       fakes.info["codex"]["access_token"], fakes.info["codex"]["account_id"])
        probe = ep.messages(False)
        gateway.start(("/v1/messages", probe.headers, probe.body))
        info["startup_s"] = gateway.startup_seconds
        info["startup_cpu_s"] = gateway.startup_cpu_seconds
        time.sleep(1.0 if args.workers > 1 else 0.0)  # let the other workers finish booting
        info["memory_after_start"] = gateway.memory()
        results = measure_all(args, ep, fakes, gateway)
        info["memory_after_run"] = gateway.memory()
        info["loadavg_after"] = os.getloadavg()
        if args.profile:
            profile(gateway, ep, Path(args.profile))
        return {"machine": info, "args": vars(args), "results": results}
    finally:
        if gateway is not None:
            if os.environ.get("BENCH_KEEP_LOG"):
                shutil.copy(gateway.log_path, os.environ["BENCH_KEEP_LOG"])
            gateway.stop()
        fakes.stop()


def cpu_snapshot(gateway: GatewayUnderTest, fakes: FakeUpstreams) -> dict[str, float]:
    pids = {f"gateway {p['role']} {p['pid']}": p["pid"] for p in gateway.memory()["processes"]}
    assert fakes.proc is not None
    pids.update({"fakes": fakes.proc.pid, "client": os.getpid()})
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def measure_all(args: argparse.Namespace, ep: Endpoints, fakes: FakeUpstreams, gateway: GatewayUnderTest) -> dict[str, Any]:
    n, warm = args.n, max(10, args.n // 10)
    results: dict[str, Any] = {}
    with httpx.Client(timeout=30) as direct, httpx.Client(timeout=30) as gw:
        def pair(kind: Callable[[httpx.Client, Call], float], d_call: Call, g_call: Call) -> Callable[[], dict[str, Any]]:
            def go() -> dict[str, Any]:
                fakes.control("/__bench/reset")
                d, g = paired(lambda: kind(direct, d_call), lambda: kind(gw, g_call), n, warm)
                return {"direct": summary(d), "gateway": summary(g)}
            return go

        claude_ns, claude_s = ep.anthropic_direct(False), ep.anthropic_direct(True)
        codex_ns, codex_s = ep.codex_direct(False), ep.codex_direct(True)
        _phase("messages", results, pair(full_request, claude_ns, ep.messages(False)))
        _phase("messages_ttfb", results, pair(first_event, claude_s, ep.messages(True)))
        _phase("chat_claude", results, pair(full_request, claude_ns, ep.chat(CLAUDE_MODEL, False)))
        _phase("chat_claude_ttfb", results, pair(first_event, claude_s, ep.chat(CLAUDE_MODEL, True)))
        _phase("responses", results, pair(full_request, codex_ns, ep.responses(False)))
        _phase("responses_ttfb", results, pair(first_event, codex_s, ep.responses(True)))
        _phase("chat_gpt", results, pair(full_request, codex_ns, ep.chat(GPT_MODEL, False)))
        _phase("chat_gpt_ttfb", results, pair(first_event, codex_s, ep.chat(GPT_MODEL, True)))

        def concurrent() -> dict[str, Any]:
            fakes.control("/__bench/reset")
            d = asyncio.run(load(claude_ns, args.concurrency, args.load_requests))
            before = cpu_snapshot(gateway, fakes)
            g = asyncio.run(load(ep.messages(False), args.concurrency, args.load_requests))
            after = cpu_snapshot(gateway, fakes)
            g["cpu_seconds"] = {k: round(after[k] - before.get(k, 0.0), 2) for k in after}
            gateway_cpu = sum(v for k, v in g["cpu_seconds"].items() if k.startswith("gateway"))
            g["gateway_cpu_ms_per_request"] = 1000 * gateway_cpu / (g["requests"] + args.concurrency)  # + warm-up
            return {"direct": d, "gateway": g}

        _phase("load", results, concurrent)

        def gaps(interval_ms: float, g_call: Call) -> Callable[[], dict[str, Any]]:
            def go() -> dict[str, Any]:
                reply = {"mode": "long_stream", "events": args.events, "interval": interval_ms / 1000}
                try:
                    fakes.control("/__bench/mode", {"target": "claude", "reply": dict(reply, events=50)})
                    stream_gaps(direct, claude_s), stream_gaps(gw, g_call)  # warm-up
                    fakes.control("/__bench/mode", {"target": "claude", "reply": reply})
                    return {"direct": stream_gaps(direct, claude_s), "gateway": stream_gaps(gw, g_call)}
                finally:
                    fakes.control("/__bench/mode", {"target": "claude", "reply": None})
            return go

        _phase("stream_gap", results, gaps(args.interval_ms, ep.messages(True, max_tokens=32000)))
        _phase("stream_gap_chat", results, gaps(args.interval_ms, ep.chat(CLAUDE_MODEL, True, max_tokens=32000)))
        _phase("stream_burst", results, gaps(0.0, ep.messages(True, max_tokens=32000)))
        _phase("stream_burst_chat", results, gaps(0.0, ep.chat(CLAUDE_MODEL, True, max_tokens=32000)))
    return results


def profile(gateway: GatewayUnderTest, ep: Endpoints, out: Path, seconds: int = 20) -> None:
    """Sample the (first) worker while it serves sequential non-streaming and streaming /v1/messages."""
    pids = [p["pid"] for p in gateway.memory()["processes"] if p["role"] == "worker"]
    spy = Path(sys.executable).with_name("py-spy")
    fmt = "flamegraph" if out.suffix == ".svg" else "raw"  # raw: collapsed stacks, one line per stack
    proc = subprocess.Popen([str(spy), "record", "--pid", str(pids[0]), "--duration", str(seconds), "--rate", "500",
                             "--nonblocking", "--full-filenames", "--format", fmt, "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + seconds - 1
        with httpx.Client(timeout=30) as client:
            calls = [ep.messages(False), ep.messages(True)]
            i = 0
            while time.monotonic() < deadline:
                full_request(client, calls[i % 2])
                i += 1
        proc.wait(seconds + 30)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
    print(f"profile: {out} ({i} requests; python -m benchmarks.profile_summary {out} --requests {i})", file=sys.stderr)


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    r, m, args = data["results"], data["machine"], data["args"]
    out: list[dict[str, Any]] = []
    for key, label, ttfb in (
        ("messages", "/v1/messages", False), ("messages_ttfb", "/v1/messages TTFB", True),
        ("chat_claude", "chat (Claude)", False), ("chat_claude_ttfb", "chat (Claude) TTFB", True),
        ("responses", "/v1/responses (Codex)", False), ("responses_ttfb", "/v1/responses TTFB", True),
        ("chat_gpt", "chat (GPT/Codex)", False), ("chat_gpt_ttfb", "chat (GPT/Codex) TTFB", True),
    ):
        out += report.latency_rows(label, r[key], ttfb=ttfb, chat=key.startswith("chat"))
    out += report.load_rows(r["load"], args["concurrency"])
    g = r["load"].get("gateway", {})
    if g.get("gateway_cpu_ms_per_request"):
        out.append({"metric": f"{args['concurrency']} clients gateway CPU per request", "gateway": g["gateway_cpu_ms_per_request"]})
    paced = f"{args['events']}-event stream ({args['interval_ms']:g} ms pacing)"
    out += report.gap_rows(f"{paced} /v1/messages", r["stream_gap"], judged=True)
    out += report.gap_rows(f"{paced} chat (Claude)", r["stream_gap_chat"], judged=True)
    out += report.gap_rows("unpaced burst /v1/messages", r["stream_burst"], judged=False)
    out += report.gap_rows("unpaced burst chat (Claude)", r["stream_burst_chat"], judged=False)
    start, end = m["memory_after_start"], m["memory_after_run"]
    out.append({"metric": "start-up to first 200 (s)", "gateway": m["startup_s"], "target": report.TARGETS["startup_s"],
                "verdict": "ok" if m["startup_s"] <= report.TARGETS["startup_s"] else "MISS"})
    out.append({"metric": "start-up CPU time, all gateway processes (s)", "gateway": m.get("startup_cpu_s")})
    for label, mem in (("after start", start), ("after run", end)):
        workers = " + ".join(f"{x:.0f}" for x in mem["workers_rss_mb"])
        out.append({"metric": f"RSS per worker {label} (MB)", "gateway": workers, "target": report.TARGETS["rss_mb"],
                    "verdict": "ok" if mem["max_worker_rss_mb"] <= report.TARGETS["rss_mb"] else "MISS"})
    if args["workers"] > 1:
        out.append({"metric": "RSS all gateway processes after run (MB)", "gateway": end["total_rss_mb"]})
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the child processes
    with tempfile.TemporaryDirectory(prefix="subgate-bench-") as tmp:
        data = run(args, Path(tmp))
    m = data["machine"]
    print(f"\nsubgate benchmark {m['date']} | {m['nproc']} cores {m['cpu']} | Python {m['python']} | "
          f"LiteLLM {m['litellm']} | entry {args.entry} | workers {args.workers} | n={args.n} | {args.concurrency} clients x "
          f"{args.load_requests} requests | git {m['git']} | load avg {m['loadavg_before'][0]:.2f} -> {m['loadavg_after'][0]:.2f}\n")
    print(report.table(rows(data)))
    cpu = data["results"]["load"].get("gateway", {}).get("cpu_seconds", {})
    print("\nCPU seconds during the gateway load phase: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
    suffix = "" if args.entry == "gateway" else f"_{args.entry}"
    out = Path(args.json or str(DEFAULT_JSON).format(workers=args.workers, suffix=suffix))
    out.write_text(json.dumps(data, indent=1, default=str))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
