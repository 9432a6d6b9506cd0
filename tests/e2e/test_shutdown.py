"""Ctrl-C (SIGINT) while a stream runs: the gateway drains, or stops the stream with an error event
in its dialect at the deadline or at a second signal; usage is saved before exit, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Accounts, gateway_env
from tests.gateway_process import ROOT
from tests.servers import free_port

CLAUDE = "claude-sonnet-4-5-20250929"


class Run:
    def __init__(self, claude_stack, codex_stack, tmp_path: Path, grace: float, workers: int = 1) -> None:
        self.auth = tmp_path / "auth"
        self.auth.mkdir(mode=0o700)
        config = tmp_path / "litellm.yaml"
        text = (ROOT / "config" / "litellm.yaml").read_text()
        config.write_text(text.replace("\ngateway:\n", f"\ngateway:\n  shutdown-grace-seconds: {grace}\n", 1))
        env = {**os.environ, **gateway_env(claude_stack, codex_stack, self.auth), "SUBGATE_CONFIG": str(config),
               "PYTHONUNBUFFERED": "1"}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "gw.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway.amp", "--port", str(self.port),
                                          "--workers", str(workers)], cwd=ROOT,
                                         env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while "subgate listening on" not in self.log.read_text():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)
        self.accounts = Accounts(self.auth, claude_stack, codex_stack)
        self.received: list[str] = []

    def stream(self, path: str, body: dict) -> threading.Thread:
        def client() -> None:
            with httpx.stream("POST", self.url + path, json=body, timeout=120) as reply:
                self.status = reply.status_code
                for text in reply.iter_text():
                    self.received.append(text)

        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not self.received:  # the stream is running
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return thread

    def usage(self) -> dict:
        path = self.auth / ".usage-stats.json"
        assert path.exists(), self.log.read_text()
        return json.loads(path.read_text())["accounts"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def run_factory(claude_stack, codex_stack, tmp_path):
    runs: list[Run] = []

    def make(grace: float, workers: int = 1) -> Run:
        runs.append(Run(claude_stack, codex_stack, tmp_path, grace, workers))
        return runs[-1]

    yield make
    for run in runs:
        run.stop()
    claude_stack.api.clear_modes()
    codex_stack.api.clear_modes()


def _no_traceback(run: Run) -> str:
    text = run.log.read_text()
    assert "Traceback" not in text and "CancelledError" not in text, text
    return text


def test_first_ctrl_c_drains_the_stream_and_saves_its_usage(run_factory, claude_stack):
    run = run_factory(grace=60)
    acct = run.accounts.add("claude")
    claude_stack.api.set_mode(None, {"mode": "long_stream", "events": 30, "interval": 0.1})
    client = run.stream("/v1/messages", {"model": CLAUDE, "max_tokens": 20, "stream": True,
                                         "messages": [{"role": "user", "content": "hi"}]})
    run.proc.send_signal(signal.SIGINT)
    client.join(60)
    assert run.proc.wait(60) == 0
    text = "".join(run.received)
    assert "event: message_stop" in text and "event: error" not in text  # the stream finished whole
    log = _no_traceback(run)
    assert "draining 1 request, up to 60 s (Ctrl-C again to stop now)" in log
    assert f"POST /v1/messages status=200 model={CLAUDE} account={acct.email}" in log
    cells = [cell for a in run.usage().values() if a["email"] == acct.email for cell in a["models"].values()]
    assert cells and cells[0]["requests"] == 1 and cells[0]["output_tokens"] > 0


@pytest.mark.parametrize("path,body,ending", [
    ("/v1/messages", {"model": CLAUDE, "max_tokens": 20, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
     "event: error"),
    ("/v1/chat/completions", {"model": CLAUDE, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
     'data: {"error"'),
])
def test_a_stream_open_at_the_deadline_ends_with_an_error_event(run_factory, claude_stack, path, body, ending):
    run = run_factory(grace=1)
    run.accounts.add("claude")
    claude_stack.api.set_mode(None, {"mode": "long_stream", "events": 600, "interval": 0.1})
    client = run.stream(path, body)
    run.proc.send_signal(signal.SIGINT)
    client.join(60)
    assert run.proc.wait(60) == 0
    text = "".join(run.received)
    assert ending in text and "The gateway is shutting down; retry the request." in text
    log = _no_traceback(run)
    assert "the grace period is over: stopping 1 request now" in log
    assert 'error="The gateway is shutting down; retry the request."' in log
    assert run.usage()  # saved before exit


def test_second_ctrl_c_stops_the_stream_at_once(run_factory, claude_stack):
    run = run_factory(grace=600)
    run.accounts.add("claude")
    claude_stack.api.set_mode(None, {"mode": "long_stream", "events": 600, "interval": 0.1})
    client = run.stream("/v1/responses", {"model": CLAUDE, "input": "hi", "stream": True})
    run.proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    run.proc.send_signal(signal.SIGINT)
    client.join(60)
    assert run.proc.wait(60) == 0
    text = "".join(run.received)
    assert "event: response.failed" in text and "shutting down" in text
    assert "second signal: stopping 1 request now" in _no_traceback(run)


def test_with_two_workers_ctrl_c_drains_the_whole_gateway_and_saves_usage(run_factory, claude_stack):
    run = run_factory(grace=60, workers=2)
    acct = run.accounts.add("claude")
    claude_stack.api.set_mode(None, {"mode": "long_stream", "events": 30, "interval": 0.1})
    client = run.stream("/v1/messages", {"model": CLAUDE, "max_tokens": 20, "stream": True,
                                         "messages": [{"role": "user", "content": "hi"}]})
    run.proc.send_signal(signal.SIGINT)  # the supervisor only, as `kill -INT`; a terminal's Ctrl-C reaches all
    client.join(60)
    assert run.proc.wait(60) == 0
    text = "".join(run.received)
    assert "event: message_stop" in text and "event: error" not in text
    log = _no_traceback(run)
    assert log.count("draining 1 request, up to 60 s (Ctrl-C again to stop now)") == 1, log
    # two workers read like one gateway: lines about the shared state once, each request once
    assert log.count(f"account loaded: claude {acct.email}") == 1, log
    assert log.count("router: 5 deployments for 1 account") == 1, log
    assert f"POST /v1/messages status=200 model={CLAUDE} account={acct.email}" in log
    cells = [cell for a in run.usage().values() if a["email"] == acct.email for cell in a["models"].values()]
    assert cells and cells[0]["requests"] == 1 and cells[0]["output_tokens"] > 0


def test_with_two_workers_the_deadline_ends_open_streams_with_an_error_event(run_factory, claude_stack):
    run = run_factory(grace=1, workers=2)
    acct = run.accounts.add("claude")
    claude_stack.api.set_mode(None, {"mode": "long_stream", "events": 600, "interval": 0.1})
    client = run.stream("/v1/messages", {"model": CLAUDE, "max_tokens": 20, "stream": True,
                                         "messages": [{"role": "user", "content": "hi"}]})
    run.proc.send_signal(signal.SIGTERM)
    client.join(60)
    assert run.proc.wait(60) == 0
    text = "".join(run.received)
    assert "event: error" in text and "The gateway is shutting down; retry the request." in text
    log = _no_traceback(run)
    assert log.count("the grace period is over: stopping 1 request now") == 1, log
    assert 'error="The gateway is shutting down; retry the request."' in log
    assert any(a["email"] == acct.email for a in run.usage().values())  # saved before exit
