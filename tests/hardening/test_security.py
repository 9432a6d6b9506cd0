"""Security from the outside: remote peers never reach the operator routes, secrets never leak.

The remote-peer test uses real sockets from another address: a network namespace joined to this one by
a veth pair (TEST-NET-2 addresses, 198.51.100.0/24, one /30 per test process), a gateway bound to the
veth address with client keys (a non-loopback bind requires them), and the client run inside the
namespace with `ip netns exec`. The namespace and the veth are removed whatever happens. Where the
kernel refuses `ip netns add` (no CAP_SYS_ADMIN) the test is skipped; the same rules are covered at the
ASGI level, with a crafted scope["client"], by tests/amp/test_localhost_guard.py and
tests/gateway/test_management_api.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import gateway.client_keys as client_keys
from tests.e2e.conftest import (
    CLIENT_KEY,
    MANAGEMENT_KEY,
    AmpStack,
    ClaudeStack,
    CodexStack,
    gateway_env,
    managed_config_text,
)
from tests.gateway_process import ROOT, GatewayProcess
from tests.hardening.conftest import fast_accounts_for
from tests.servers import free_port

MODEL = "claude-sonnet-4-5-20250929"
AMP_DENIED = {"error": "Access denied: management routes restricted to localhost"}
AMP_MANAGEMENT_PATHS = ["/api/internal?getUserInfo", "/api/internal/threads", "/api/user", "/api/auth/cli-login",
                        "/api/meta", "/api/telemetry", "/api/threads/T-1", "/threads/T-1", "/settings", "/actors/x"]

CLIENT = r"""
import json, sys
import httpx

url, plan = sys.argv[1], json.loads(sys.argv[2])
out = []
with httpx.Client(base_url=url, timeout=20, trust_env=False) as c:
    for req in plan:
        r = c.request(req["method"], req["path"], headers=req.get("headers") or {}, json=req.get("json"))
        out.append({"status": r.status_code, "body": r.text})
print(json.dumps(out))
"""


# ---- issued tokens, so logs and bodies can be searched for every one of them ------------------------------


@pytest.fixture
def issued_tokens(monkeypatch: pytest.MonkeyPatch, claude_stack: ClaudeStack, codex_stack: CodexStack) -> list[str]:
    tokens: list[str] = []
    for book in (claude_stack.book, codex_stack.book):
        original = book._issue

        def recording(*args: Any, _original=original, **kwargs: Any):
            grant = _original(*args, **kwargs)
            tokens.extend([grant.access_token, grant.refresh_token])
            return grant

        monkeypatch.setattr(book, "_issue", recording)
    return tokens


def assert_no_secret(text: str, secrets: list[str], where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:12]}...) appears in {where}"


# ---- a network namespace with a veth pair to it -------------------------------------------------------------


@dataclass
class Netns:
    name: str
    host_ip: str
    peer_ip: str

    def run_client(self, url: str, plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c", CLIENT, url, json.dumps(plan)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def netns() -> Iterator[Netns]:
    pid = os.getpid()
    name, host_if, peer_if = f"sgh{pid}", f"sgh{pid}h"[:15], f"sgh{pid}p"[:15]
    base = 4 * (pid % 63)  # one /30 of 198.51.100.0/24 per test process
    ns = Netns(name, f"198.51.100.{base + 1}", f"198.51.100.{base + 2}")
    try:
        _ip("netns", "add", name)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"`ip netns add` is not permitted here ({getattr(exc, 'stderr', exc)!s}); the peer-address "
                    "rules are covered at the ASGI level by tests/amp/test_localhost_guard.py")
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        _ip("link", "set", peer_if, "netns", name)
        _ip("addr", "add", f"{ns.host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", name, "ip", "addr", "add", f"{ns.peer_ip}/30", "dev", peer_if)
        _ip("netns", "exec", name, "ip", "link", "set", peer_if, "up")
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@dataclass
class RemoteGateway:
    gw: GatewayProcess
    auth: Path
    config: Path


@pytest.fixture(scope="module")
def remote_gateway(netns: Netns, claude_stack: ClaudeStack, codex_stack: CodexStack, amp_stack: AmpStack,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteGateway]:
    """Bound to the veth address only, with client keys, a management secret and a log file."""
    root = tmp_path_factory.mktemp("remote")
    auth = root / "auth"
    auth.mkdir(mode=0o700)
    config = root / "litellm.yaml"
    config.write_text(managed_config_text())
    env = gateway_env(claude_stack, codex_stack, auth, amp_stack)
    env.update({"MANAGEMENT_PASSWORD": "", "SUBGATE_HOST": netns.host_ip})
    port = free_port()
    gw = GatewayProcess(env, log_path=root / "gateway.log", config=config, port=port)
    gw.url = f"http://{netns.host_ip}:{port}"
    with gw:
        yield RemoteGateway(gw, auth, config)


def _get(path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"method": "GET", "path": path, "headers": headers or {}}


def test_operator_and_amp_management_routes_refuse_a_remote_peer(netns: Netns, remote_gateway: RemoteGateway,
                                                                 claude_stack: ClaudeStack, codex_stack: CodexStack,
                                                                 amp_stack: AmpStack, issued_tokens: list[str]):
    gw = remote_gateway.gw
    for accounts in fast_accounts_for(remote_gateway.auth, claude_stack, codex_stack):
        accounts.add("claude")
        key = {"x-api-key": CLIENT_KEY}
        spoof = {"x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1", "forwarded": "for=127.0.0.1"}
        upstream_before = len(amp_stack.recorder.requests)
        plan = (
            [_get(p) for p in AMP_MANAGEMENT_PATHS]
            + [_get(p, {**key, **spoof}) for p in AMP_MANAGEMENT_PATHS]
            + [_get("/v0/management/accounts", {"authorization": f"Bearer {MANAGEMENT_KEY}", **spoof}),
               _get("/v0/management/api-keys", {"x-management-key": MANAGEMENT_KEY}),
               _get("/metrics"), _get("/ui")]
            + [{"method": "POST", "path": "/v1/messages", "headers": {**key, "anthropic-version": "2023-06-01"},
                "json": {"model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}},
               {"method": "POST", "path": "/v1/messages", "headers": {"x-api-key": "wrong-key"},
                "json": {"model": MODEL, "max_tokens": 32, "messages": []}},
               _get("/v1/models")]
        )
        seen = netns.run_client(gw.url, plan)
        amp, management, inference = seen[: 2 * len(AMP_MANAGEMENT_PATHS)], seen[-7:-3], seen[-3:]
        for req, got in zip(plan, amp):
            assert got["status"] == 403 and json.loads(got["body"]) == AMP_DENIED, (req["path"], got)
        assert len(amp_stack.recorder.requests) == upstream_before  # nothing reached the Amp upstream
        for got in management:
            assert got["status"] == 403 and json.loads(got["body"]) == {"error": "remote management disabled"}, got
        ok, wrong, no_key = inference
        assert ok["status"] == 200 and json.loads(ok["body"])["content"], ok
        assert wrong["status"] == 401 and json.loads(wrong["body"])["error"]["message"] == "Invalid API key"
        assert no_key["status"] == 401 and json.loads(no_key["body"])["error"]["message"] == "Missing API key"
        secrets = [CLIENT_KEY, MANAGEMENT_KEY, amp_stack.key, *issued_tokens]
        for got in seen:
            assert_no_secret(got["body"], secrets, "a response body")

    # Management switched off (secret removed; the config is re-read while running): 404, still for nobody.
    text = remote_gateway.config.read_text()
    remote_gateway.config.write_text("\n".join(ln for ln in text.splitlines() if "secret-key:" not in ln) + "\n")
    deadline = time.monotonic() + 10
    while True:
        got = netns.run_client(gw.url, [_get("/v0/management/accounts", {"x-management-key": MANAGEMENT_KEY})])[0]
        if got["status"] == 404 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got["status"] == 404 and json.loads(got["body"]) == {"error": "not found"}, got

    log_files = [gw.log_text()] + [p.read_text(errors="replace") for p in (remote_gateway.auth / "logs").glob("*")]
    assert_no_secret("\n".join(log_files), [CLIENT_KEY, MANAGEMENT_KEY, amp_stack.key, *issued_tokens],
                     "the gateway's logs")
    assert netns.peer_ip in "\n".join(log_files)  # the refusals were logged, with the peer address


# ---- secrets after failures, on the main gateway ------------------------------------------------------------


def test_no_token_in_logs_or_error_bodies_after_failures_and_files_stay_private(
        gateway: GatewayProcess, auth_dir: Path, claude_stack: ClaudeStack, codex_stack: CodexStack,
        issued_tokens: list[str]) -> None:
    bodies: list[str] = []
    for accounts in fast_accounts_for(auth_dir, claude_stack, codex_stack):
        expired = accounts.add("claude", expired=True)  # refreshed on the request path
        revoked = accounts.add("codex", expired=True)
        codex_stack.book.revoke_email(revoked.email)
        with httpx.Client(base_url=gateway.url, timeout=20, trust_env=False,
                          headers={"anthropic-version": "2023-06-01"}) as c:
            msg = {"model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
            assert c.post("/v1/messages", json=msg).status_code == 200
            claude_stack.book.expire(expired.data()["access_token"])  # an upstream 401 -> refresh
            assert c.post("/v1/messages", json=msg).status_code == 200
            r = c.post("/v1/responses", json={"model": "gpt-5.1", "input": "hi"})
            assert r.status_code in (401, 503) and "login" in r.text
            bodies.append(r.text)
            for mode in ({"status": 500}, {"status": 429, "reset_in": 30}, {"status": 401}):
                claude_stack.api.set_mode(expired.email, mode)
                r = c.post("/v1/messages", json=msg)
                assert r.status_code >= 400
                bodies.append(r.text)
            claude_stack.api.clear_modes()
            bodies.append(c.post("/v1/messages/count_tokens", json={"model": MODEL, "messages": 3}).text)
        assert claude_stack.book.refreshes_by_email.get(expired.email) == 2
        assert stat.S_IMODE(expired.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(auth_dir.stat().st_mode) == 0o700
        for path in auth_dir.glob("*.json"):
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.name
    assert len(issued_tokens) >= 8  # two logins and two rotations were recorded
    for body in bodies:
        assert_no_secret(body, issued_tokens, "an error body")
    assert_no_secret(gateway.log_text(), issued_tokens, "the gateway log")


# ---- client keys: constant-time comparison against every candidate ------------------------------------------


def test_client_keys_are_compared_in_constant_time_against_every_candidate(monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple[bytes, bytes]] = []
    real = client_keys.hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(client_keys.hmac, "compare_digest", recording)
    keys = ("short", "a-much-longer-configured-key", CLIENT_KEY)

    def scope(*headers: tuple[str, str], query: str = "") -> dict[str, Any]:
        return {"type": "http", "headers": [(k.encode(), v.encode()) for k, v in headers],
                "query_string": query.encode()}

    # the right key in the last place it is looked for: every (candidate, key) pair is still compared
    s = scope(("authorization", "Bearer vendor-token"), ("x-api-key", "nope"), query=f"key={CLIENT_KEY}")
    assert client_keys.authenticate(s, keys) is None
    assert len(calls) == 3 * len(keys)
    calls.clear()
    # the first candidate matches: no early exit either
    assert client_keys.authenticate(scope(("x-api-key", "short"), ("x-goog-api-key", "zzz")), keys) is None
    assert len(calls) == 2 * len(keys)
    # prefixes, extensions and other lengths of a real key are refused
    for wrong in ("shor", "shortt", CLIENT_KEY[:-1], CLIENT_KEY + "0", "", " " + CLIENT_KEY + "x"):
        headers = (("x-api-key", wrong),) if wrong else ()
        assert client_keys.authenticate(scope(*headers), keys) in (client_keys.INVALID, client_keys.MISSING)
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in calls)
