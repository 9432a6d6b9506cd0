"""`python -m gateway doctor`: what it reports for healthy and broken setups, and what it never prints."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from custom_providers.credentials import rfc3339
from gateway.cli import main
from gateway.doctor import FAIL, OK, WARN, Check, check_litellm, run_checks
from gateway.token_store import NEEDS_LOGIN_KEY, token_fingerprint

ACCESS, REFRESH, AMP_SECRET = "sk-ant-oat01-TOPSECRET-ACCESS", "sk-ant-ort01-TOPSECRET-REFRESH", "amp-TOPSECRET-KEY"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    """A healthy install: loopback config on a free port, auth-dir 0700, one valid 0600 account."""
    auth = tmp_path / "auth"
    auth.mkdir(mode=0o700)
    cred(auth, "claude-alice@example.com.json", type="claude", email="alice@example.com", access_token=ACCESS,
         refresh_token=REFRESH, expired=rfc3339(time.time() + 3600))
    port = free_port()
    path = write_config(tmp_path, f"gateway:\n  port: {port}\n  auth-dir: {auth}\n")
    env = {"AMP_API_KEY": AMP_SECRET, "SUBGATE_AMP_SECRETS_FILE": str(tmp_path / "no-secrets.json")}
    return {"config": path, "auth": auth, "port": port, "env": env, "tmp": tmp_path}


def write_config(tmp_path: Path, gateway: str) -> Path:
    path = tmp_path / "litellm.yaml"
    path.write_text("model_list: []\n" + gateway)
    return path


def cred(auth: Path, name: str, mode: int = 0o600, **data: object) -> Path:
    path = auth / name
    path.write_text(json.dumps(data))
    os.chmod(path, mode)
    return path


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def text(checks: list[Check]) -> str:
    return "\n".join(c.line() for c in checks)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SUBGATE_") or key == "AMP_API_KEY":
            monkeypatch.delenv(key)


def test_a_healthy_setup_has_no_failure_and_prints_no_secret(setup, monkeypatch, capsys, clean_env) -> None:
    monkeypatch.setenv("SUBGATE_CONFIG", str(setup["config"]))
    for key, value in setup["env"].items():
        monkeypatch.setenv(key, value)
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    assert f"OK    port: 127.0.0.1:{setup['port']} is free" in out
    assert "OK    account claude alice@example.com: ok: token valid until" in out
    assert "secret from the environment variable AMP_API_KEY" in out
    for secret in (ACCESS, REFRESH, AMP_SECRET):
        assert secret not in out


def test_a_token_file_readable_by_others_fails_with_the_chmod_fix(setup) -> None:
    loose = cred(setup["auth"], "codex-bob@example.com.json", mode=0o644, type="codex", email="bob@example.com",
                 access_token="codex-TOPSECRET", refresh_token="codex-TOPSECRET-R", expired=rfc3339(time.time() + 9e4))
    checks = run_checks(setup["config"], env=setup["env"])
    creds = by_name(checks)["credentials"]
    assert creds.status == FAIL and "codex-bob@example.com.json (0644)" in creds.message
    assert creds.fix == f"chmod 600 {loose}"
    assert "codex-TOPSECRET" not in text(checks)
    os.chmod(loose, 0o600)
    assert by_name(run_checks(setup["config"], env=setup["env"]))["credentials"].status == OK


def test_an_auth_dir_open_to_others_is_flagged(setup) -> None:
    os.chmod(setup["auth"], 0o755)
    check = by_name(run_checks(setup["config"], env=setup["env"]))["auth-dir"]
    assert check.status == WARN and "0755" in check.message and check.fix == f"chmod 700 {setup['auth']}"


def test_non_loopback_bind_without_keys_fails_but_the_other_checks_still_run(setup) -> None:
    path = write_config(setup["tmp"], f"gateway:\n  host: 0.0.0.0\n  port: {setup['port']}\n  auth-dir: {setup['auth']}\n")
    checks = by_name(run_checks(path, env=setup["env"]))
    assert checks["config"].status == OK
    assert checks["bind"].status == FAIL and "0.0.0.0" in checks["bind"].message
    assert "gateway.api-keys" in checks["bind"].fix
    assert checks["port"].status == OK and "account claude alice@example.com" in checks
    path.write_text(path.read_text() + "  api-keys: [sk-client-TOPSECRET]\n")
    checks = run_checks(path, env=setup["env"])
    assert by_name(checks)["bind"].status == OK and "sk-client-TOPSECRET" not in text(checks)


def test_a_broken_config_fails_and_says_why(setup) -> None:
    bad = write_config(setup["tmp"], "gateway:\n  routing-strategy: random\n")
    checks = by_name(run_checks(bad, env=setup["env"]))
    assert checks["config"].status == FAIL and "routing-strategy" in checks["config"].message
    assert "litellm" in checks and "port" not in checks
    missing = by_name(run_checks(setup["tmp"] / "nope.yaml", env=setup["env"]))
    assert missing["config"].status == FAIL and "not found" in missing["config"].message


class _Health(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        status = 200 if self.body else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator:
    servers = []

    def start(body: bytes) -> int:
        handler = type("H", (_Health,), {"body": body})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
        return srv.server_address[1]

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("body, status, words", [
    (b'{"status":"ok"}', OK, "already served by a running subgate"),
    (b"", FAIL, "in use by another program"),
    (b'{"status":"healthy"}', FAIL, "in use by another program"),
])
def test_a_busy_port_is_told_apart_from_a_running_subgate(setup, server, body, status, words) -> None:
    port = server(body)
    path = write_config(setup["tmp"], f"gateway:\n  port: {port}\n  auth-dir: {setup['auth']}\n")
    check = by_name(run_checks(path, env=setup["env"], health_timeout=2))["port"]
    assert check.status == status and words in check.message
    assert (str(port) in check.fix) == (status == FAIL)


def test_account_states(setup) -> None:
    auth = setup["auth"]
    past = rfc3339(time.time() - 600)
    cred(auth, "claude-bob@example.com.json", type="claude", email="bob@example.com", access_token="old",
         refresh_token="rt-bob", expired=past)
    cred(auth, "claude-carol@example.com.json", type="claude", email="carol@example.com", access_token="a",
         refresh_token="rt-carol", expired=past, **{NEEDS_LOGIN_KEY: token_fingerprint("rt-carol")})
    cred(auth, "claude-dan@example.com.json", type="claude", email="dan@example.com", access_token="a",
         refresh_token="r", expired=past, disabled=True)
    cred(auth, "codex-erin@example.com.json", type="codex", email="erin@example.com", access_token="a",
         refresh_token="rt-erin", expired=past, **{NEEDS_LOGIN_KEY: token_fingerprint("rt-erin")})
    checks = by_name(run_checks(setup["config"], env=setup["env"]))
    bob, carol = checks["account claude bob@example.com"], checks["account claude carol@example.com"]
    assert bob.status == OK and "refreshes on next use" in bob.message
    # carol needs a login, but alice and bob still serve Claude: a warning; erin was the only Codex login: a failure
    assert carol.status == WARN and "needs-login" in carol.message and "login claude" in carol.fix
    assert checks["account claude dan@example.com"].status == OK and "disabled" in checks["account claude dan@example.com"].message
    erin = checks["account codex erin@example.com"]
    assert erin.status == FAIL and "login codex" in erin.fix


@pytest.mark.parametrize("config_key, env_key, file_key, source", [
    ("cfg-TOPSECRET", "env-TOPSECRET", "file-TOPSECRET", "config key"),
    ("", "env-TOPSECRET", "file-TOPSECRET", "AMP_API_KEY"),
    ("", "", "file-TOPSECRET", "login file"),
    ("", "", "", None),
])
def test_amp_secret_source_is_named_never_shown(setup, config_key, env_key, file_key, source) -> None:
    secrets_file = setup["tmp"] / "secrets.json"
    if file_key:
        secrets_file.write_text(json.dumps({"apiKey@https://ampcode.com/": file_key}))
    path = write_config(setup["tmp"], f"gateway:\n  port: {setup['port']}\n  auth-dir: {setup['auth']}\n"
                                      f"  amp:\n    upstream-api-key: '{config_key}'\n")
    env = {"AMP_API_KEY": env_key, "SUBGATE_AMP_SECRETS_FILE": str(secrets_file)}
    checks = run_checks(path, env=env)
    amp = by_name(checks)["amp"]
    if source is None:
        assert amp.status == WARN and "no Amp secret" in amp.message and "amp login" in amp.fix
    else:
        assert amp.status == OK and source in amp.message
    assert "TOPSECRET" not in text(checks)


def test_litellm_other_than_the_pinned_version_fails() -> None:
    [check] = check_litellm(installed=lambda name: "1.2.3")
    assert check.status == FAIL and "1.2.3" in check.message and "litellm[proxy]==1.108.7" in check.fix
    [check] = check_litellm()
    assert check.status == OK


def test_doctor_exit_code_is_1_when_something_fails(setup, monkeypatch, capsys, clean_env) -> None:
    os.chmod(setup["auth"] / "claude-alice@example.com.json", 0o640)
    monkeypatch.setenv("SUBGATE_CONFIG", str(setup["config"]))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  credentials" in out and "1 failed" in out and ACCESS not in out


@pytest.mark.parametrize("content,problem", [
    ('{"type": "codex", "email": "bob@', "is not valid JSON"),
    ("", "is empty"),
    ("{}", 'has no "type"'),
    ('{"type": "codex", "email": "bob@example.com"}', "holds no access or refresh token"),
])
def test_a_broken_credential_file_fails_naming_the_file_and_the_fix(setup, content, problem) -> None:
    path = setup["auth"] / "codex-bob@example.com.json"
    path.write_text(content)
    os.chmod(path, 0o600)
    checks = [c for c in run_checks(setup["config"], env=setup["env"]) if c.name == "credentials" and c.status == FAIL]
    assert len(checks) == 1
    assert checks[0].message.startswith(f"codex-bob@example.com.json {problem}")
    assert "`python -m gateway login codex`" in checks[0].fix and str(path) in checks[0].fix


def test_a_yaml_syntax_error_is_not_answered_with_config_path(setup) -> None:
    setup["config"].write_text("gateway:\n  port: [1\n")
    check = by_name(run_checks(setup["config"], env=setup["env"]))["config"]
    assert check.status == FAIL and "not valid YAML" in check.message
    assert "--config" not in check.fix and "line" in check.fix


def test_doctor_checks_the_redis_store_and_reads_its_accounts(setup, redis_server, tmp_path) -> None:
    from tests.servers import free_port as unused_port

    env = {**setup["env"], "SUBGATE_STORE": redis_server.url}
    checks = by_name(run_checks(setup["config"], env=env, health_timeout=0.3))
    store = checks["store"]
    import re
    import subprocess

    installed = re.search(r"v=(\d+\.\d+\.\d+)", subprocess.run(["redis-server", "--version"], capture_output=True,
                                                                text=True).stdout).group(1)
    assert f"Redis {installed} at" in store.message and "ms round trip" in store.message
    assert store.status == OK or "slow" in store.message  # WARN only when the round trip took over 50 ms
    # the account file in auth-dir is not in Redis: doctor reports what the hosts would serve
    assert checks["accounts"].status == WARN and redis_server.url in checks["accounts"].message

    env["SUBGATE_STORE"] = f"redis://127.0.0.1:{unused_port()}/0"
    checks = by_name(run_checks(setup["config"], env=env, health_timeout=0.3))
    assert checks["store"].status == FAIL and "not reachable" in checks["store"].message
    assert "gateway.store" in checks["store"].fix


def test_doctor_names_the_file_store_by_default(setup) -> None:
    store = by_name(run_checks(setup["config"], env=setup["env"], health_timeout=0.3))["store"]
    assert store.status == OK and str(setup["auth"]) in store.message
