"""gateway.cli: reference-style flags, and `python -m gateway accounts` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from custom_providers.credentials import rfc3339
from gateway.cli import _normalise, build_parser
from gateway.quota_file import FILENAME
from gateway.token_store import NEEDS_LOGIN_KEY, Account, token_fingerprint

REPO = Path(__file__).resolve().parents[2]


# ---- argument normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize("argv, expected", [
    (["--claude-login"], ["login", "claude"]),
    (["--claude-login", "--no-browser"], ["login", "claude", "--no-browser"]),
    (["--codex-login", "--no-browser"], ["login", "codex", "--no-browser"]),
    (["--codex-device-login"], ["login", "codex", "--device"]),
    # CLIProxyAPI's own spelling (Go flags take one dash), -config included
    (["-claude-login", "-no-browser", "-config", "c.yaml"], ["--config", "c.yaml", "login", "claude", "--no-browser"]),
    (["--codex-login", "--config=c.yaml"], ["--config=c.yaml", "login", "codex"]),
    (["accounts", "--config", "c.yaml"], ["--config", "c.yaml", "accounts"]),
    (["login", "claude", "--paste"], ["login", "claude", "--paste"]),
    (["accounts"], ["accounts"]),
])
def test_normalise(argv: list[str], expected: list[str]) -> None:
    assert _normalise(argv) == expected


def test_reference_flags_parse_into_the_login_command() -> None:
    args = build_parser().parse_args(_normalise(["-claude-login", "-no-browser", "-config", "c.yaml"]))
    assert (args.command, args.provider, args.no_browser, args.config) == ("login", "claude", True, "c.yaml")


# ---- `python -m gateway accounts` ------------------------------------------------------------------


def run_cli(*args: str, auth_dir: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBGATE_")}
    env["PYTHONPATH"] = str(REPO)
    env["SUBGATE_AUTH_DIR"] = str(auth_dir)
    if config is not None:
        env["SUBGATE_CONFIG"] = str(config)
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=30)


def cred(auth_dir: Path, name: str, **data: object) -> Path:
    path = auth_dir / name
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "litellm.yaml"
    path.write_text("model_list: []\ngateway:\n  auth-dir: /nonexistent/overridden-by-env\n")
    return path


def test_accounts_lists_every_state_and_no_secret(tmp_path: Path, config: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    soon, later, past = time.time() + 5 * 3600, time.time() + 3 * 86400, time.time() - 600
    alice = cred(auth, "claude-alice@example.com.json", type="claude", email="alice@example.com",
                 access_token="sk-ant-oat01-SECRET-A", refresh_token="sk-ant-ort01-SECRET-A", expired=rfc3339(soon))
    cred(auth, "codex-1a2b3c4d-bob@example.com-pro.json", type="codex", email="bob@example.com", plan_type="pro",
         access_token="SECRET-B", refresh_token="SECRET-RB", account_id="acc-b", expired=rfc3339(later))
    cred(auth, "claude-carol@example.com.json", type="claude", email="carol@example.com",
         access_token="SECRET-C", refresh_token="SECRET-RC", expired=rfc3339(past),
         **{NEEDS_LOGIN_KEY: token_fingerprint("SECRET-RC")})
    cred(auth, "claude-dave@example.com.json", type="claude", email="dave@example.com", disabled=True,
         access_token="SECRET-D", refresh_token="SECRET-RD", expired=rfc3339(later))
    cred(auth, "claude-erin@example.com.json", type="claude", email="erin@example.com",
         access_token="SECRET-E", refresh_token="SECRET-RE", expired=rfc3339(past))
    (auth / "broken.json").write_text("{nope")
    blocked_until = time.time() + 3600
    alice_id = Account(provider="claude", path=alice, data={}).id
    (auth / FILENAME).write_text(json.dumps({alice_id: blocked_until}))
    bob_id = Account(provider="codex", path=auth / "codex-1a2b3c4d-bob@example.com-pro.json", data={}).id
    now = time.time()
    (auth / ".usage-snapshots.json").write_text(json.dumps({bob_id: {
        "provider": "codex", "taken_at": now,
        "five_hour": {"used_percent": 42.5, "resets_at": now + 2 * 3600 + 60, "window_minutes": 300},
        "weekly": {"used_percent": 71, "resets_at": now - 60, "window_minutes": 10080}}}))

    result = run_cli("accounts", auth_dir=auth, config=config)
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines()[1:] if not line.startswith("Left out: ")]
    lines = {line.split()[1]: line for line in table}
    assert "Left out: credential file broken.json is not valid JSON" in result.stdout  # below the table
    assert result.stdout.splitlines()[0].split() == ["PROVIDER", "EMAIL", "STATE", "PLAN", "5-HOUR", "WEEKLY",
                                                     "TOKEN", "EXPIRES"]
    assert set(lines) == {"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com",
                          "erin@example.com"}
    assert "blocked until " + time.strftime("%Y-%m-%d %H:%M", time.localtime(blocked_until)) in lines["alice@example.com"]
    assert "(in 5.0 h)" in lines["alice@example.com"] or "(in 4.9 h)" in lines["alice@example.com"]
    assert lines["bob@example.com"].split()[:4] == ["codex", "bob@example.com", "ok", "pro"]
    assert "(in 3.0 d)" in lines["bob@example.com"]
    # the upstream's last usage reading: 42.5 % of the 5-hour window; the weekly window has reset since
    # (71 % a minute before its reset), so it is estimated at 0 % with the next reset a week on
    assert "42.5% (resets in 2.0 h)" in lines["bob@example.com"]
    assert "~0% (resets in 7.0 d)" in lines["bob@example.com"]
    assert lines["carol@example.com"].split()[3:6] == ["-", "-", "-"]  # no plan, no answer seen yet
    assert "needs-login" in lines["carol@example.com"]
    assert "disabled" in lines["dave@example.com"]
    assert "token expired; refreshes on use" in lines["erin@example.com"]
    assert "SECRET" not in result.stdout + result.stderr


def test_accounts_with_no_logins_says_how_to_log_in(tmp_path: Path, config: Path) -> None:
    result = run_cli("accounts", auth_dir=tmp_path / "empty", config=config)
    assert result.returncode == 0
    assert "No accounts in" in result.stdout and "python -m gateway login claude" in result.stdout


def test_accounts_and_doctor_name_a_broken_file_once_in_their_own_output(tmp_path: Path, config: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir(mode=0o700)
    broken = auth / "claude-bob@example.com.json"
    broken.write_text('{"type": "claude", "access_token": "at-')
    broken.chmod(0o600)
    listed = run_cli("accounts", auth_dir=auth, config=config)
    assert listed.returncode == 0 and listed.stderr == ""  # no stray log line besides the listing
    assert "No accounts in" in listed.stdout
    assert f"Left out: credential file {broken.name} is not valid JSON" in listed.stdout
    assert listed.stdout.count(broken.name) == 2 and "`python -m gateway login claude`" in listed.stdout  # name, fix
    doctor = run_cli("doctor", auth_dir=auth, config=config)
    assert doctor.returncode == 1 and doctor.stderr == ""
    assert f"FAIL  credentials: {broken.name} is not valid JSON" in doctor.stdout


def test_a_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("gateway:\n  auth_dirr: /x\n")
    result = run_cli("accounts", "--config", str(bad), auth_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("subgate: ") and "auth_dirr" in result.stderr
    assert "Traceback" not in result.stderr
