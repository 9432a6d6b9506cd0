"""`gateway.max-body-mb`: a larger body gets 413 in the caller's dialect before it is read, and
repeated oversized requests leave the gateway's memory where it was."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.e2e.conftest import Accounts, gateway_env
from tests.gateway_process import ROOT, GatewayProcess
from tests.servers import free_port, stop_process

CLAUDE = "claude-sonnet-4-5-20250929"
LIMIT_MB = 1


class PlainLiteLLM:
    """`litellm --config` (LiteLLM's own proxy app with the gateway's hook), with the limit in its YAML."""

    def __init__(self, env: dict[str, str], config: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "litellm"), "--config", str(config), "--port", str(self.port),
                 "--host", "127.0.0.1"], cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log_text()[-3000:]
            try:
                if httpx.get(self.url + "/health/liveliness", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def _limited_config(root: Path) -> Path:
    text = (ROOT / "config" / "litellm.yaml").read_text()
    config = root / "litellm.yaml"
    config.write_text(text.replace("\ngateway:\n", f"\ngateway:\n  max-body-mb: {LIMIT_MB}\n", 1))
    return config


@pytest.fixture(scope="module", params=["gateway", "litellm"])
def small_gateway(request, claude_stack, codex_stack, tmp_path_factory) -> Iterator[GatewayProcess | PlainLiteLLM]:
    """Both entry points with `max-body-mb: 1`: python -m gateway.amp, and litellm --config."""
    root = tmp_path_factory.mktemp("bodylimit")
    auth = root / "auth"
    auth.mkdir(mode=0o700)
    env = gateway_env(claude_stack, codex_stack, auth)
    if request.param == "litellm":
        plain = PlainLiteLLM({**env, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}, _limited_config(root), root / "l.log")
        plain.auth = auth  # type: ignore[attr-defined]
        try:
            yield plain
        finally:
            stop_process(plain.proc)
        return
    with GatewayProcess(env, log_path=root / "gw.log", config=_limited_config(root)) as gw:
        gw.auth = auth  # type: ignore[attr-defined]
        yield gw


def _raw(gw: GatewayProcess | PlainLiteLLM, head: bytes, chunks: Iterator[bytes] = iter(())) -> tuple[int, dict]:
    """Send a request by hand (the SDKs would not let the server answer before the body is sent)."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the gateway answered and closed while we were still sending: what it should do
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            part = sock.recv(65536)
            if not part:
                break
            data += part
    status = int(data.split(b" ", 2)[1])
    body = data.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(body[: _length(data)])


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def _head(path: str, *, length: int | None = None) -> bytes:
    size = f"content-length: {length}" if length is not None else "transfer-encoding: chunked"
    return (f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{size}\r\n\r\n").encode()


def _chunked(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    piece = b"x" * size
    while sent < total:
        yield f"{size:x}\r\n".encode() + piece + b"\r\n"
        sent += size
    yield b"0\r\n\r\n"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_declared_oversized_body_is_refused_unread_in_each_dialect(small_gateway):
    status, body = _raw(small_gateway, _head("/v1/messages", length=200 * 1024 * 1024))  # no body sent at all
    assert status == 413
    assert body["type"] == "error" and body["error"]["type"] == "request_too_large"
    assert f"({LIMIT_MB} MB)" in body["error"]["message"] and "max-body-mb" in body["error"]["message"]
    status, body = _raw(small_gateway, _head("/v1/chat/completions", length=64 * 1024 * 1024))
    assert status == 413 and body["error"]["code"] == "request_too_large"
    if isinstance(small_gateway, GatewayProcess):  # LiteLLM's proxy keeps no access log of its own
        assert "status=413" in small_gateway.log_text()


def test_chunked_oversized_body_is_refused_at_the_limit(small_gateway):
    status, body = _raw(small_gateway, _head("/v1/responses"), _chunked(8 * 1024 * 1024))
    assert status == 413 and body["error"]["type"] == "invalid_request_error"


def test_body_under_the_limit_is_served(small_gateway, claude_stack, codex_stack):
    acc = Accounts(small_gateway.auth, claude_stack, codex_stack)  # type: ignore[attr-defined]
    acc.add("claude")
    try:
        text = "a" * (LIMIT_MB * 1024 * 1024 // 2)
        reply = httpx.post(small_gateway.url + "/v1/messages", timeout=60, json={
            "model": CLAUDE, "max_tokens": 5, "messages": [{"role": "user", "content": text}]})
        assert reply.status_code == 200, reply.text
    finally:
        acc.cleanup()


def test_memory_stays_flat_under_repeated_oversized_requests(small_gateway):
    for _ in range(3):  # warm-up: first requests allocate what every later one reuses
        _raw(small_gateway, _head("/v1/messages"), _chunked(4 * 1024 * 1024))
    before = _rss_kb(small_gateway.proc.pid)
    for i in range(20):
        if i % 2:
            status, _ = _raw(small_gateway, _head("/v1/messages", length=200 * 1024 * 1024))
        else:
            status, _ = _raw(small_gateway, _head("/v1/chat/completions"), _chunked(20 * 1024 * 1024))
        assert status == 413
    grown_mb = (_rss_kb(small_gateway.proc.pid) - before) / 1024
    assert grown_mb < 30, f"RSS grew {grown_mb:.0f} MB over 20 oversized requests"
