"""`python -m gateway login|import` as a user runs them, against the fake OAuth servers."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.claude_oauth import ClaudeOAuthFake
from tests.fakes.openai_oauth import OpenAIOAuthFake
from tests.fakes.tokens import TokenBook
from tests.gateway_process import ROOT
from tests.servers import ServerThread, free_port


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gateway", *args], cwd=ROOT, env={**os.environ, **env},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _read_until(proc: subprocess.Popen, pattern: str, timeout: float = 30) -> re.Match:
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        match = re.search(pattern, seen)
        if match:
            return match
    raise AssertionError(f"{pattern!r} not printed; output so far:\n{seen}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def test_claude_login_no_browser_via_local_callback(home):
    port = free_port()
    book = TokenBook()
    fake = ClaudeOAuthFake(book, redirect_uri=f"http://localhost:{port}/callback", approve_email="cli@example.com")
    with ServerThread(fake.app) as oauth:
        env = {"HOME": str(home), "SUBGATE_AUTH_DIR": str(home / "auth"),
               "SUBGATE_CLAUDE_AUTHORIZE_URL": oauth.url + "/oauth/authorize",
               "SUBGATE_CLAUDE_TOKEN_URL": oauth.url + "/v1/oauth/token",
               "SUBGATE_CLAUDE_PROFILE_URL": oauth.url + "/api/oauth/profile",
               "SUBGATE_CLAUDE_CALLBACK_PORT": str(port)}
        proc = _spawn(["login", "claude", "--no-browser"], env)
        try:
            url = _read_until(proc, r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)").group(1)
            # the "browser": the fake approves and redirects to the CLI's callback listener
            r = httpx.get(url, follow_redirects=True, timeout=10)
            assert r.status_code == 200
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, out
    saved = home / "auth" / "claude-cli@example.com.json"
    data = json.loads(saved.read_text())
    assert data["type"] == "claude" and data["access_token"].startswith("sk-ant-oat")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "auth").stat().st_mode) == 0o700
    assert data["access_token"] not in out  # tokens are never printed


def test_claude_login_paste_code_hash_state(home):
    book, port = TokenBook(), free_port()
    fake = ClaudeOAuthFake(book, redirect_uri=f"http://localhost:{port}/callback", approve_email="paste@example.com")
    with ServerThread(fake.app) as oauth:
        env = {"HOME": str(home), "SUBGATE_AUTH_DIR": str(home / "auth"),
               "SUBGATE_CLAUDE_AUTHORIZE_URL": oauth.url + "/oauth/authorize",
               "SUBGATE_CLAUDE_TOKEN_URL": oauth.url + "/v1/oauth/token",
               "SUBGATE_CLAUDE_CALLBACK_PORT": str(port)}
        proc = _spawn(["--claude-login", "--paste"], env)
        try:
            url = _read_until(proc, r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)").group(1)
            r = httpx.get(url, follow_redirects=False, timeout=10)  # approve; the hosted page shows code#state
            assert r.status_code == 302
            proc.stdin.write(fake.manual_code() + "\n")
            proc.stdin.flush()
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, out
    assert (home / "auth" / "claude-paste@example.com.json").exists()


def test_codex_device_login(home):
    book = TokenBook(access_prefix="codex-at-", refresh_prefix="codex-rt-")
    fake = OpenAIOAuthFake(book, approve_email="device@example.com")
    with ServerThread(fake.app) as oauth:
        env = {"HOME": str(home), "SUBGATE_AUTH_DIR": str(home / "auth"),
               "SUBGATE_CODEX_TOKEN_URL": oauth.url + "/oauth/token",
               "SUBGATE_CODEX_DEVICE_USERCODE_URL": oauth.url + "/api/accounts/deviceauth/usercode",
               "SUBGATE_CODEX_DEVICE_TOKEN_URL": oauth.url + "/api/accounts/deviceauth/token"}
        proc = _spawn(["login", "codex", "--device", "--no-browser"], env)
        try:
            code = _read_until(proc, r"enter the code\s+(\S+)").group(1)
            fake.approve_device(code, "device@example.com")
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, out
    data = json.loads((home / "auth" / "codex-device@example.com.json").read_text())
    assert data["type"] == "codex" and data["account_id"] == fake.account_id_for("device@example.com")


def test_import_codex_cli_login_and_accounts_table(home):
    book = TokenBook(access_prefix="codex-at-", refresh_prefix="codex-rt-")
    fake = OpenAIOAuthFake(book)
    grant = book.issue("imported@example.com", fake.account_id_for("imported@example.com"))
    (home / ".codex").mkdir()
    (home / ".codex" / "auth.json").write_text(json.dumps({
        "OPENAI_API_KEY": None, "last_refresh": "2026-11-01T00:00:00Z",
        "tokens": {"id_token": fake.id_token(grant), "access_token": grant.access_token,
                   "refresh_token": grant.refresh_token, "account_id": grant.account_id}}))
    env = {**os.environ, "HOME": str(home), "SUBGATE_AUTH_DIR": str(home / "auth")}
    out = subprocess.run([sys.executable, "-m", "gateway", "import", "codex"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (home / "auth" / "codex-imported@example.com.json").exists()
    table = subprocess.run([sys.executable, "-m", "gateway", "accounts"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert "imported@example.com" in table.stdout and "codex" in table.stdout
    assert grant.access_token not in table.stdout + out.stdout
