"""Client setup commands (amp-setup, import's report, serve) and the shipped install files."""

from __future__ import annotations

import json
import os
import plistlib
import re
from pathlib import Path

import pytest

from gateway.cli import _serve_argv, main
from tests.fakes.openai_oauth import make_jwt

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("SUBGATE_"):
            monkeypatch.delenv(key)
    path = tmp_path / "litellm.yaml"
    path.write_text(f"model_list: []\ngateway:\n  port: 9317\n  auth-dir: {tmp_path / 'auth'}\n")
    monkeypatch.setenv("SUBGATE_CONFIG", str(path))
    return path


# ---- amp-setup -------------------------------------------------------------------------------------


def test_amp_setup_merges_amp_url_and_keeps_other_settings(tmp_path, config, capsys) -> None:
    settings = tmp_path / "amp" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"amp.notifications.enabled": False, "amp.url": "https://ampcode.com",
                                    "amp.mcpServers": {"x": {"command": "y"}}}))
    assert main(["amp-setup", "--path", str(settings)]) == 0
    out = capsys.readouterr().out
    assert json.loads(settings.read_text()) == {"amp.notifications.enabled": False, "amp.url": "http://localhost:9317",
                                                "amp.mcpServers": {"x": {"command": "y"}}}
    assert "from https://ampcode.com to http://localhost:9317" in out
    assert "export AMP_URL=http://localhost:9317" in out
    assert main(["amp-setup", "--path", str(settings), "--url", "http://127.0.0.1:8400"]) == 0
    assert json.loads(settings.read_text())["amp.url"] == "http://127.0.0.1:8400"
    assert main(["amp-setup", "--path", str(settings), "--url", "http://127.0.0.1:8400"]) == 0
    assert "already has" in capsys.readouterr().out


def test_amp_setup_says_which_amp_builds_use_the_subscriptions(tmp_path, config, capsys) -> None:
    assert main(["amp-setup", "--path", str(tmp_path / "settings.json")]) == 0
    out = capsys.readouterr().out
    assert "@sourcegraph/amp@0.0.1767830505-ga62310" in out and "/api/provider/" in out
    assert "billed by Amp" in out and "/actors/" in out


def test_amp_setup_creates_the_file_and_refuses_a_broken_one(tmp_path, config, capsys) -> None:
    settings = tmp_path / "new" / "settings.json"
    assert main(["amp-setup", "--path", str(settings)]) == 0
    assert json.loads(settings.read_text()) == {"amp.url": "http://localhost:9317"}
    settings.write_text("{oops")
    assert main(["amp-setup", "--path", str(settings)]) == 1
    assert "not valid JSON" in capsys.readouterr().err and settings.read_text() == "{oops"


# ---- import reports what it did --------------------------------------------------------------------


def test_import_codex_reports_source_destination_and_email_not_tokens(tmp_path, config, capsys) -> None:
    access = make_jwt({"exp": 1893456000})
    id_token = make_jwt({"email": "gina@example.com", "https://api.openai.com/auth": {
        "chatgpt_account_id": "acc-42", "chatgpt_plan_type": "plus"}})
    source = tmp_path / "auth.json"
    source.write_text(json.dumps({"tokens": {"id_token": id_token, "access_token": access,
                                             "refresh_token": "rt-TOPSECRET"}}))
    assert main(["import", "codex", "--path", str(source)]) == 0
    out = capsys.readouterr().out
    saved = tmp_path / "auth" / "codex-gina@example.com.json"
    assert f"Reading the Codex CLI login in {source}" in out
    assert f"Imported codex login for gina@example.com into {saved}" in out
    assert "2030-01-01" in out and "share one refresh token" in out
    assert access not in out and "rt-TOPSECRET" not in out and id_token not in out
    assert json.loads(saved.read_text())["refresh_token"] == "rt-TOPSECRET"
    assert main(["import", "codex", "--path", str(source)]) == 0
    assert "Updated codex login for gina@example.com" in capsys.readouterr().out


# ---- serve -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, expected", [
    (["serve"], []),
    (["serve", "--port", "9000", "--host", "0.0.0.0"], ["--port", "9000", "--host", "0.0.0.0"]),
    (["--config", "c.yaml", "serve", "--workers", "2"], ["--config", "c.yaml", "--workers", "2"]),
    (["--config=c.yaml", "serve"], ["--config=c.yaml"]),
    (["doctor"], None),
    (["--config", "c.yaml", "accounts"], None),
])
def test_serve_hands_its_arguments_to_the_gateway_server(argv, expected) -> None:
    assert _serve_argv(argv) == expected


def test_serve_help_is_the_servers_help(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    assert "--workers" in capsys.readouterr().out


def test_serve_reports_a_config_error_instead_of_starting(tmp_path, config, capsys) -> None:
    config.write_text("gateway:\n  host: 0.0.0.0\n")
    assert main(["serve"]) == 2
    assert "gateway.api-keys" in capsys.readouterr().err


# ---- install files ---------------------------------------------------------------------------------


def test_launchd_plist_is_valid_and_keeps_the_gateway_running() -> None:
    plist = plistlib.loads((REPO / "config" / "examples" / "com.subgate.gateway.plist").read_bytes())
    assert plist["Label"] == "com.subgate.gateway"
    assert plist["ProgramArguments"][1:] == ["-m", "gateway.amp"]
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is True
    assert plist["StandardOutPath"].endswith("/Library/Logs/subgate.log")
    assert plist["StandardErrorPath"].endswith("/Library/Logs/subgate.err.log")


def test_systemd_unit_runs_the_gateway_from_the_checkout() -> None:
    lines = (REPO / "config" / "examples" / "subgate.service").read_text().splitlines()
    service = lines[lines.index("[Service]"):lines.index("[Install]")]
    assert "ExecStart=%h/subgate/.venv/bin/python -m gateway.amp" in service
    assert "WorkingDirectory=%h/subgate" in service and "Restart=on-failure" in service
    assert "WantedBy=default.target" in lines


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    sources = [src for line in re.findall(r"^COPY (.+)$", dockerfile, re.M) for src in line.split()[:-1]]
    assert {"pyproject.toml", "gateway", "custom_providers", "amp", "config"} <= set(sources)
    for src in sources:
        assert (REPO / src).exists() and src not in ignored, src
    assert 'CMD ["python", "-m", "gateway.amp", "--host", "0.0.0.0"]' in dockerfile
    assert "VOLUME /root/.cli-proxy-api" in dockerfile and "EXPOSE 8317" in dockerfile
    assert "FROM python:3.11-slim" in dockerfile
