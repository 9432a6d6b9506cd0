"""A newcomer's first start: the port taken, no account yet, and what the log says on a bad day."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import gateway_env
from tests.gateway_process import ROOT, GatewayProcess
from tests.servers import free_port

CLAUDE = "claude-sonnet-4-5-20250929"
LITELLM_WORDS = ("Traceback", "\x1b[", "LITELLM_MASTER_KEY", "Invalid model name", "No deployments available",
                 "Try again in", "not found in credential_list", "LiteLLM Proxy:", "LiteLLM Router:")


def _run_gateway(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway.amp", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_port_held_by_another_program_is_named_with_a_port_hint(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = _run_gateway(["--port", str(port)], {"SUBGATE_AUTH_DIR": str(tmp_path)})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{port} is in use by pid {os.getpid()}" in lines[0]
    assert "--port " in lines[0]
    assert done.stdout == ""  # nothing else happened: LiteLLM was never loaded, no banner


def test_the_owner_of_the_port_is_named_on_one_line_even_for_a_multi_line_command(tmp_path: Path) -> None:
    port = free_port()
    script = f"import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', {port}))\ns.listen()\n" \
             "print('ready', flush=True)\ntime.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        done = _run_gateway(["--port", str(port)], {"SUBGATE_AUTH_DIR": str(tmp_path)})
    finally:
        holder.kill()
        holder.wait(10)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"is in use by pid {holder.pid}: python" in done.stderr and "import socket, time s = socket" in done.stderr


def test_port_held_by_a_running_subgate_says_so_and_demo_prints_no_banner(gateway: GatewayProcess, tmp_path: Path) -> None:
    done = _run_gateway(["--port", str(gateway.port)], {"SUBGATE_AUTH_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert f"127.0.0.1:{gateway.port} is already served by a running subgate (pid {gateway.proc.pid}" in done.stderr
    assert "--port" in done.stderr
    demo = _run_gateway(["--demo", "--port", str(gateway.port)], {})
    assert demo.returncode == 1
    assert "already served by a running subgate" in demo.stderr
    assert "DEMO MODE" not in demo.stdout and "curl" not in demo.stdout


def test_first_start_without_accounts_says_how_to_log_in(claude_stack, codex_stack, tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir(mode=0o700)
    env = {**os.environ, **gateway_env(claude_stack, codex_stack, auth), "PYTHONUNBUFFERED": "1"}
    port, log = free_port(), tmp_path / "gw.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway.amp", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "subgate listening on" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        # "listening" is printed only once the port answers
        assert httpx.get(url + "/health", timeout=2).status_code == 200
        reply = httpx.post(url + "/v1/messages", json={"model": CLAUDE, "max_tokens": 5,
                                                       "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == 503
        assert "python -m gateway login claude" in reply.json()["error"]["message"]
        time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(20)
    text = log.read_text()
    assert "python -m gateway login claude" in text and "python -m gateway login codex" in text
    assert "python -m gateway.amp --demo" in text
    assert "status=503" in text
    for word in LITELLM_WORDS:
        assert word not in text, word


def _log_since(gw: GatewayProcess, offset: int) -> str:
    time.sleep(0.5)
    return gw.log_text()[offset:]


def test_bad_day_is_logged_in_the_gateways_words(gateway, accounts, claude_stack, codex_stack) -> None:
    """Client errors, an upstream 404 for a wildcard model, cut streams and all accounts blocked:
    one line each, no traceback, no escape codes, no line contradicting the client's answer."""
    accounts.add("claude")
    accounts.add("codex")
    offset = len(gateway.log_text())
    body = {"model": "claude-zzz-9", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    claude_stack.api.set_mode(None, {"status": 404, "type": "not_found_error", "message": "model: claude-zzz-9"})
    r = httpx.post(gateway.url + "/v1/messages", json=body, timeout=30)
    assert r.status_code == 404 and "claude-zzz-9" in r.json()["error"]["message"]
    claude_stack.api.set_mode(None, {"mode": "cut_after", "events": 3})
    r = httpx.post(gateway.url + "/v1/messages", json=dict(body, model=CLAUDE, stream=True), timeout=30)
    assert r.status_code == 200 and "event: error" in r.text
    codex_stack.api.set_mode(None, {"mode": "cut_after", "events": 3})
    r = httpx.post(gateway.url + "/v1/responses", json={"model": "gpt-5.1", "input": "hi", "stream": True}, timeout=30)
    assert "response.failed" in r.text
    claude_stack.api.set_mode(None, {"status": 429, "reset_in": 30})
    for _ in range(2):
        r = httpx.post(gateway.url + "/v1/messages", json=dict(body, model=CLAUDE), timeout=30)
        assert r.status_code == 429 and r.headers["retry-after"]
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "gpt-5.1"}, timeout=30)
    assert r.status_code == 400
    text = _log_since(gateway, offset)
    assert text.count("subgate.access") >= 6, text
    assert 'status=404 model=claude-zzz-9' in text and 'error="model: claude-zzz-9"' in text
    assert text.count('status=200 ') >= 2 and 'error="The upstream connection closed' in text  # the cut streams
    for word in LITELLM_WORDS:
        assert word not in text, (word, text)


def test_a_broken_credential_file_is_reported_once_on_the_log_and_ui(gateway, accounts, auth_dir) -> None:
    offset = len(gateway.log_text())
    broken = auth_dir / "claude-broken@example.com.json"
    broken.write_text('{"type": "claude", "access_token": "at-')
    broken.chmod(0o600)
    try:
        for _ in range(3):  # other files come and go meanwhile: the broken one is not reported again
            accounts.add("claude")
            time.sleep(0.5)
        problems = httpx.get(gateway.url + "/ui/data.json").json()["file_problems"]
        assert problems == [{"file": broken.name, "problem": "is not valid JSON (Unterminated string starting at "
                                                             "line 1 column 36)"}]
        assert "Credential file" in httpx.get(gateway.url + "/ui").text  # the page knows how to show them
        log = gateway.log_text()[offset:]
        assert log.count(f"credential file {broken.name} is not valid JSON") == 1, log
        assert "`python -m gateway login claude`" in log
    finally:
        broken.unlink()
    time.sleep(0.5)
    assert httpx.get(gateway.url + "/ui/data.json").json()["file_problems"] == []


def test_count_tokens_access_line_names_the_model(gateway, accounts) -> None:
    accounts.add("claude")
    offset = len(gateway.log_text())
    reply = httpx.post(gateway.url + "/v1/messages/count_tokens", timeout=30, headers={"anthropic-version": "2023-06-01"},
                       json={"model": CLAUDE, "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 200
    time.sleep(0.3)
    assert f"POST /v1/messages/count_tokens status=200 model={CLAUDE} " in gateway.log_text()[offset:]


def test_with_two_workers_a_broken_file_is_reported_once_per_change(claude_stack, codex_stack, tmp_path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir(mode=0o700)
    corrupt, empty = auth / "claude-corrupt@example.com.json", auth / "codex-empty@example.com.json"
    corrupt.write_text('{"type": "claude", "access_token": "at-')
    empty.write_text("{}")
    gw = GatewayProcess(gateway_env(claude_stack, codex_stack, auth), log_path=tmp_path / "gw.log",
                        args=["--workers", "2"])
    with gw:
        deadline = time.monotonic() + 60
        while "subgate listening on" not in gw.log_text():  # the banner has read the files too
            assert time.monotonic() < deadline, gw.log_text()
            time.sleep(0.1)
        for _ in range(6):  # answered by either worker: both know the problems
            problems = httpx.get(gw.url + "/ui/data.json").json()["file_problems"]
            assert [p["file"] for p in problems] == [corrupt.name, empty.name]
        corrupt.write_text('{"type": "claude"')  # changed, still broken: said once more
        time.sleep(2.5)
        log = gw.log_text()
    assert log.count(f"credential file {corrupt.name} is not valid JSON") == 2, log
    assert log.count(f"credential file {empty.name} has no \"type\"") == 1, log
    assert "`python -m gateway login codex`" in log
