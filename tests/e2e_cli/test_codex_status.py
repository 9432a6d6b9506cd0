"""Codex CLI's `/status` limits through the gateway: the real TUI, signed in with ChatGPT.

Signed in with ChatGPT, Codex CLI 0.169 reads `{chatgpt_base_url}/wham/accounts/check` (which workspace its
login routes to) and `{chatgpt_base_url}/wham/usage` (the limits `/status` draws), with its own ChatGPT token.
It accepts only an https `chatgpt_base_url` ("workspace backend must use an HTTPS origin without
credentials"), so the test puts a TLS tap in front of the gateway (a private CA, trusted through
`CODEX_CA_CERTIFICATE`). Seen with 0.169.0: `/status` also asks `/wham/rate-limit-reset-credits` and
`/wham/security-setup` and shows the limits when those answer 404.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import openai
import pytest

from gateway.demo.fakes.openai_oauth import make_jwt
from tests.e2e_cli.clis import binary, clean_env, requires
from tests.e2e_cli.tap import Tap
from tests.e2e_cli.tui import Tui
from tests.servers import ServerThread

pytestmark = [*requires("codex"),
              pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command for a test CA")]

CLI_ACCOUNT = "cli-own-workspace"  # the CLI's own ChatGPT login, not one of the gateway's accounts
AUTH_CLAIM = "https://api.openai.com/auth"


def private_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for localhost signed by it: (ca.pem, cert.pem, key.pem)."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=subgate test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=localhost")
    (folder / "leaf.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                                     "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "cert.pem", "-days", "1", "-extfile", "leaf.ext")
    return folder / "ca.pem", folder / "cert.pem", folder / "key.pem"


def chatgpt_login(codex_home: Path) -> None:
    """auth.json as `codex login` writes it, for a Plus login whose tokens stay valid for the test."""
    now = int(time.time())
    claim = {"chatgpt_account_id": CLI_ACCOUNT, "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-cli"}
    id_token = make_jwt({"iss": "https://auth.openai.com", "sub": "auth0|cli", "iat": now, "exp": now + 86400,
                         "email": "cli@example.com", "email_verified": True, AUTH_CLAIM: claim})
    access = make_jwt({"iss": "https://auth.openai.com", "sub": "auth0|cli", "iat": now, "exp": now + 86400,
                       AUTH_CLAIM: claim})
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    auth = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "last_refresh": stamp,
            "tokens": {"id_token": id_token, "access_token": access, "refresh_token": "rt-cli", "account_id": CLI_ACCOUNT}}
    (codex_home / "auth.json").write_text(json.dumps(auth))
    (codex_home / "auth.json").chmod(0o600)


def stop_daemons(codex_home: Path) -> None:
    """Codex's TUI starts a background app server from CODEX_HOME (in its own session, so killing the TUI
    leaves it running): stop every process whose program lives there."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            program = (proc / "cmdline").read_bytes().split(b"\0", 1)[0].decode()
        except OSError:
            continue
        if program.startswith(str(codex_home)):
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_status_shows_the_pools_limits(gateway, accounts, codex_stack, sandbox, tmp_path):
    acct = accounts.add("codex")
    codex_stack.api.meter.set(acct.email, five_hour=37, weekly=12, cost=0)  # other use of the subscription
    openai.OpenAI(base_url=gateway.url + "/v1", api_key="k").responses.create(model="gpt-5.1-codex", input="hi")

    ca, cert, key = private_ca(tmp_path)
    tap = Tap(gateway.url)
    with ServerThread(tap, ssl_certfile=str(cert), ssl_keyfile=str(key)) as srv:
        codex_home = sandbox.home / ".codex"
        codex_home.mkdir()
        chatgpt_login(codex_home)
        (codex_home / "config.toml").write_text(
            f'model = "gpt-5.1-codex"\nchatgpt_base_url = "https://localhost:{srv.port}/backend-api/"\n'
            f'check_for_update_on_startup = false\n\n[projects."{sandbox.work}"]\ntrust_level = "trusted"\n')
        env = clean_env(sandbox.home, {"CODEX_HOME": str(codex_home), "CODEX_CA_CERTIFICATE": str(ca),
                                       "TERM": "xterm-256color"})
        env.pop("NO_COLOR", None)
        tui = Tui([str(binary("codex"))], cwd=sandbox.work, env=env)
        try:
            assert tui.wait_for(r"Ask Codex to do anything", 60), tui.text[-3000:]
            five = weekly = None
            for _ in range(3):  # the first /status may only ask for a refresh ("run /status again shortly")
                tui.type("/status")
                tui.read_for(1.5)
                tui.type("\r")
                five = tui.wait_for(r"5h limit:[^%]*?(\d+)% left", 15)
                weekly = tui.wait_for(r"Weekly limit:[^%]*?(\d+)% left", 2)
                if five and weekly:
                    break
        finally:
            tui.close()
            stop_daemons(codex_home)
    (tmp_path / "screen.txt").write_text(tui.text)
    assert five and weekly, tui.text[-3000:]
    assert (int(five.group(1)), int(weekly.group(1))) == (63, 88)  # 37 % and 12 % used

    [check] = tap.requests("/backend-api/wham/accounts/check")[:1]
    usage = tap.requests("/backend-api/wham/usage")
    assert usage, "the CLI never asked for its limits"
    for sent in (check, usage[0]):  # what the CLI sends there: its own login, not a gateway key
        assert sent.headers["chatgpt-account-id"] == CLI_ACCOUNT
        assert sent.headers["authorization"].startswith("Bearer ey")
        # the app server asks accounts/check as codex_cli_rs, the TUI asks wham/usage as codex-tui
        assert sent.headers["user-agent"].startswith(("codex_cli_rs/0.169.0 ", "codex-tui/0.169.0 ")), sent.headers
        print(f"\n{sent.method} {sent.path} {json.dumps({k: v[:40] for k, v in sent.headers.items()})}")
    assert not codex_stack.api.recorder.for_path("/backend-api/wham/usage")  # answered from the snapshots
