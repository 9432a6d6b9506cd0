"""`python -m benchmarks.profile_summary STACKS.txt [--top 25]`: read py-spy's collapsed stacks.

`python -m benchmarks.bench --profile /tmp/gw.txt` records the gateway worker with py-spy in raw
(collapsed) format; this prints where the busy samples go: by stage of LiteLLM's proxy path (each
sample counted once, in the first stage that matches), by package of the innermost frame, and the
functions with the most inclusive time, so tuning starts from numbers. Samples whose innermost frame
is a known wait (idle pool threads, the event loop) are dropped: py-spy's --nonblocking mode cannot
always tell a waiting thread from a running one.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def package(path: str) -> str:
    """Top-level package of a frame's file (needs py-spy's --full-filenames for site-packages)."""
    parts = path.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for name in ("gateway", "custom_providers", "amp", "benchmarks", "tests"):
        if name in parts[:-1]:
            return name
    if path.startswith("<frozen"):
        return "stdlib:frozen"
    stdlib = [i for i, part in enumerate(parts) if part.startswith("python3")]
    if stdlib and stdlib[-1] + 1 < len(parts):
        return "stdlib:" + parts[stdlib[-1] + 1].removesuffix(".py")
    return parts[0] if len(parts) > 1 else "?"


IDLE_LEAVES = {"Condition.wait", "Queue.get", "_worker", "Runner.run", "WorkerThread.run"}


def _any(*names: str):
    return lambda fns: any(f.startswith(names) for f in fns)


# (label, predicate over the stack's function names), first match wins; order matters.
STAGES = [
    ("LiteLLM success logging + cost (success handlers, stream re-assembly, completion_cost)",
     _any("Logging.async_success_handler", "Logging._async_success_handler_body", "Logging.success_handler",
          "PassThroughStreamingHandler._build", "served_stream_output_texts", "completion_cost",
          "ProxyLogging._record_served_stream_output", "offload_token_count", "stream_chunk_builder")),
    ("FastAPI route matching over LiteLLM's route table", _any("_IncludedRouter.matches")),
    ("user_api_key_auth (LiteLLM key auth, OTel destination seeding)", _any("user_api_key_auth")),
    ("proxy pre-call processing (add_litellm_data_to_request, pre-call hooks)",
     _any("ProxyBaseLLMRequestProcessing.common_processing_pre_call_logic")),
    ("gateway hook + account selection + request shaping", _any("GatewayHook", "prepare_call", "Selector.")),
    ("LiteLLM router deployment selection", _any("Router.async_get_available_deployment")),
    ("upstream HTTP client (aiohttp transport, httpx)",
     _any("StreamWriter", "ClientRequest", "AsyncClient.", "LiteLLMAiohttpTransport", "ClientResponse", "ClientSession")),
    ("stream chunk conversion (CustomStreamWrapper, pydantic chunk models)", _any("CustomStreamWrapper")),
    ("provider transform + router plumbing (deepcopy, model info, pydantic)",
     _any("Router.", "anthropic_messages", "BaseLLMHTTPHandler", "responses", "acompletion")),
    ("writing the response to the client (StreamingResponse, uvicorn/h11 send)",
     _any("StreamingResponse", "RequestResponseCycle.send", "ProxyBaseLLMRequestProcessing.async_streaming_data_generator")),
    ("uvicorn/h11 + ASGI middleware chain + FastAPI glue", _any("RequestResponseCycle.run_asgi")),
    ("other (event loop, threads)", lambda fns: True),
]


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            m = _FRAME.match(raw.strip())
            frames.append((m.group("func"), m.group("file")) if m else (raw.strip(), ""))
        stacks.append((frames, int(count)))
    return stacks


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stacks", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--rate", type=int, default=500, help="py-spy sampling rate used (default 500, as bench)")
    p.add_argument("--requests", type=int, default=0, help="requests served while sampling: adds ms per request")
    args = p.parse_args(argv)
    stacks = [(f, c) for f, c in parse(args.stacks) if f and f[-1][0] not in IDLE_LEAVES]
    total = sum(c for _, c in stacks) or 1
    stage: Counter[str] = Counter()
    self_pkg: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    for frames, count in stacks:
        names = [fn for fn, _ in frames]
        stage[next(label for label, match in STAGES if match(names))] += count
        self_pkg[package(frames[-1][1])] += count
        for key in {f"{fn} ({package(f)}:{Path(f).name})" for fn, f in frames}:
            incl_fn[key] += count
    per_req = f", {1000 * total / args.rate / args.requests:.1f} ms per request" if args.requests else ""
    print(f"{total} busy samples = {total / args.rate:.1f} s sampled{per_req}")

    def show(title: str, counter: Counter[str], top: int) -> None:
        print(f"\n{title}:")
        for name, n in counter.most_common(top):
            ms = f"  {1000 * n / args.rate / args.requests:5.2f} ms/req" if args.requests else ""
            print(f"  {100 * n / total:5.1f}%{ms}  {name}")

    show("by stage (first match)", stage, len(STAGES))
    show("self time by package of the innermost frame", self_pkg, args.top)
    show("inclusive time by function", incl_fn, args.top * 2)


if __name__ == "__main__":
    main()
