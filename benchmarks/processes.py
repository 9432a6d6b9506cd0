"""The two processes a benchmark run owns: the fake upstreams and the gateway, plus their memory.

Both are started with `subprocess.Popen` and remembered by pid (with every descendant the gateway
spawns for `--workers 2`), so `stop()` ends exactly what the run started and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import httpx

ROOT = Path(__file__).resolve().parent.parent


def descendants(pid: int) -> list[int]:
    """Every live process under `pid` (uvicorn's supervisor spawns workers with multiprocessing)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (to see which process the cores went to during a phase)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _stop(proc: subprocess.Popen, extra: dict[int, str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for pid, line in extra.items():  # workers that outlived their supervisor (same pid, same command)
        if cmdline(pid) != line:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class FakeUpstreams:
    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}

    def start(self, timeout: float = 30) -> "FakeUpstreams":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.fake_upstreams", "--port", str(self.port)],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log)
        assert self.proc.stdout is not None
        self.info = json.loads(self.proc.stdout.readline() or b"{}")
        if not self.info:
            raise RuntimeError(f"fake upstreams did not start: {self.log_path.read_text()[-2000:]}")
        self.url = self.info["url"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.post(self.url + "/__bench/reset", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("fake upstreams did not answer")

    def control(self, path: str, payload: dict[str, Any] | None = None) -> None:
        httpx.post(self.url + path, json=payload or {}, timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, {})
            self._log.close()
            self.proc = None


ENTRIES = ("gateway", "plugin")


class GatewayUnderTest:
    """An entry point with start-up timed from spawn to the first 200 on a real request:
    `gateway` is `python -m gateway.amp`, `plugin` is `litellm --config config/litellm.yaml` (the hook in
    LiteLLM's own proxy, no front layer)."""

    def __init__(self, env: Mapping[str, str], port: int, workers: int, log_path: Path, root: Path = ROOT,
                 entry: str = "gateway") -> None:
        self.root = root
        self.entry = entry
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workers = workers
        self.log_path = log_path
        self.env = {**os.environ, **env, "SUBGATE_PORT": str(port), "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen | None = None
        self.startup_seconds = 0.0
        self.startup_cpu_seconds = 0.0
        self._seen: dict[int, str] = {}

    def start(self, probe: tuple[str, dict[str, str], bytes], timeout: float = 90) -> "GatewayUnderTest":
        path, headers, body = probe
        self._log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), cwd=self.root, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        last = "no answer"
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = httpx.post(self.url + path, headers=headers, content=body, timeout=10)
                if r.status_code == 200:
                    self.startup_seconds = time.perf_counter() - t0
                    # CPU spent to get there: on a busy shared machine the wall time is mostly waiting
                    self.startup_cpu_seconds = sum(cpu_seconds(pid) for pid in self.pids())
                    return self
                last = f"{r.status_code} {r.text[:300]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.02)
        raise RuntimeError(f"gateway gave no 200 in {timeout} s (last: {last}):\n{self.log_tail()}")

    def command(self) -> list[str]:
        if self.entry == "plugin":
            litellm_cli = str(Path(sys.executable).with_name("litellm"))
            return [litellm_cli, "--config", self.env.get("SUBGATE_CONFIG", "config/litellm.yaml"), "--host", "127.0.0.1",
                    "--port", str(self.port), "--num_workers", str(self.workers)]
        return [sys.executable, "-m", "gateway.amp", "--workers", str(self.workers)]

    def pids(self) -> list[int]:
        """The supervisor and every worker; remembered so stop() can reach workers that outlive it."""
        assert self.proc is not None
        found = [self.proc.pid, *descendants(self.proc.pid)]
        for pid in found:
            self._seen.setdefault(pid, cmdline(pid))
        return found

    def memory(self) -> dict[str, Any]:
        procs = []
        for pid in self.pids():
            line = cmdline(pid)
            role = "helper" if "resource_tracker" in line else ("supervisor" if pid == self.proc.pid else "worker")
            procs.append({"pid": pid, "role": role, "rss_mb": round(rss_mb(pid), 1)})
        if self.workers == 1:
            procs[0]["role"] = "worker"
        workers = [p["rss_mb"] for p in procs if p["role"] == "worker"]
        return {"processes": procs, "workers_rss_mb": workers, "max_worker_rss_mb": max(workers, default=0.0),
                "total_rss_mb": round(sum(p["rss_mb"] for p in procs), 1)}

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.pids()
            _stop(self.proc, {pid: line for pid, line in self._seen.items() if pid != self.proc.pid and line})
            self._log.close()
