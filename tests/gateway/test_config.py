"""gateway.config: the `gateway:` YAML section, environment overrides and the start rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from amp.settings import ModelMapping
from gateway.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    GatewaySettings,
    is_loopback_host,
    load_settings,
    read_yaml,
    settings_from_yaml,
)


def settings(data: dict, **env: str) -> GatewaySettings:
    return settings_from_yaml(data, env=env)


def test_defaults_match_the_reference_system() -> None:
    s = settings({})
    assert (s.host, s.port) == ("127.0.0.1", 8317)
    assert s.auth_dir == "~/.cli-proxy-api"
    assert s.auth_path == Path.home() / ".cli-proxy-api"
    assert s.request_retry == 3
    assert s.api_keys == ()
    assert s.amp.upstream_url == "https://ampcode.com"
    assert s.amp.restrict_management_to_localhost is True


def test_kebab_case_keys_are_read() -> None:
    s = settings({"gateway": {
        "port": 9000, "auth-dir": "/tmp/x", "api-keys": ["k1", " k2 "], "request-retry": "5",
        "logging-to-file": "true", "debug": True, "routing-strategy": "fill-first",
        "remote-management": {"secret-key": "s", "allow-remote": True},
    }})
    assert s.port == 9000 and s.auth_dir == "/tmp/x" and s.request_retry == 5
    assert s.api_keys == ("k1", "k2")
    assert s.logging_to_file is True and s.debug is True
    assert s.routing_strategy == "fill-first"
    assert s.remote_management.secret_key == "s" and s.remote_management.allow_remote is True


def test_flat_amp_keys_at_top_level_and_in_gateway_section() -> None:
    top = settings({
        "amp-upstream-url": "http://127.0.0.1:1/amp",
        "amp-upstream-api-key": "amp-key",
        "amp-restrict-management-to-localhost": False,
    })
    assert top.amp.upstream_url == "http://127.0.0.1:1/amp"
    assert top.amp.upstream_api_key == "amp-key"
    assert top.amp.restrict_management_to_localhost is False

    inner = settings({"gateway": {"amp-upstream-url": "http://127.0.0.1:2", "amp-upstream-api-key": "k2"}})
    assert inner.amp.upstream_url == "http://127.0.0.1:2" and inner.amp.upstream_api_key == "k2"


def test_nested_amp_block() -> None:
    s = settings({"gateway": {"amp": {
        "upstream-url": "http://127.0.0.1:3",
        "upstream-api-key": "nested",
        "restrict-management-to-localhost": "false",
        "model-mappings": [{"from": "claude-opus-4", "to": "claude-sonnet-4-5"}, {"from": "", "to": "x"}],
    }}})
    assert s.amp.upstream_url == "http://127.0.0.1:3"
    assert s.amp.upstream_api_key == "nested"
    assert s.amp.restrict_management_to_localhost is False
    assert s.amp.model_mappings == (ModelMapping("claude-opus-4", "claude-sonnet-4-5"),)


def test_environment_overrides() -> None:
    s = settings(
        {"gateway": {"port": 9000, "auth-dir": "/from/yaml", "amp": {"upstream-url": "http://yaml"}}},
        SUBGATE_PORT="9100",
        SUBGATE_AUTH_DIR="/from/env",
        SUBGATE_CLAUDE_API_BASE="http://127.0.0.1:5555",
        SUBGATE_CODEX_TOKEN_URL="http://127.0.0.1:6666/oauth/token",
        SUBGATE_AMP_UPSTREAM_URL="http://127.0.0.1:7777",
    )
    assert s.port == 9100
    assert s.auth_dir == "/from/env"
    assert s.providers["claude"]["api_base"] == "http://127.0.0.1:5555"
    assert s.provider("codex")["token_url"] == "http://127.0.0.1:6666/oauth/token"
    assert s.amp.upstream_url == "http://127.0.0.1:7777"


def test_provider_yaml_block_is_snake_cased() -> None:
    s = settings({"gateway": {"claude": {"api-base": "http://127.0.0.1:1"}}})
    assert s.provider("claude") == {"api_base": "http://127.0.0.1:1"}


def test_bad_port_in_env_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SUBGATE_PORT"):
        settings({}, SUBGATE_PORT="eighty")


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"gateway": {"prot": 1}}, "prot"),
        ({"gateway": {"amp": {"upstream-ur": "x"}}}, "'upstream-ur'"),
        ({"amp-upstream-uri": "x"}, "'upstream-uri'"),
        ({"gateway": {"api-kyes": ["k"]}}, "'api-kyes'"),
    ],
)
def test_unknown_keys_are_refused_by_name(data: dict, fragment: str) -> None:
    """Named as the YAML spells them (hyphens), known keys too: `api-keys`, never `api_keys`."""
    with pytest.raises(ConfigError, match="unknown key") as info:
        settings(data)
    assert fragment in str(info.value)
    assert "_" not in str(info.value).split("known:")[1]


def test_wrong_types_are_refused() -> None:
    with pytest.raises(ConfigError, match="port"):
        settings({"gateway": {"port": "http"}})
    with pytest.raises(ConfigError, match="debug"):
        settings({"gateway": {"debug": "maybe"}})
    with pytest.raises(ConfigError, match="routing-strategy"):
        settings({"gateway": {"routing-strategy": "random"}})


def test_non_loopback_bind_without_keys_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="api-keys"):
        settings({"gateway": {"host": "0.0.0.0"}})
    with pytest.raises(ConfigError, match="api-keys"):
        settings({}, SUBGATE_HOST="192.168.1.5")


def test_non_loopback_bind_with_keys_is_allowed() -> None:
    s = settings({"gateway": {"host": "0.0.0.0", "api-keys": ["secret"]}})
    assert s.host == "0.0.0.0" and not s.is_loopback_bind


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts_start_without_keys(host: str) -> None:
    assert is_loopback_host(host)
    assert settings({"gateway": {"host": host}}).api_keys == ()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "example.com", ""])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


def test_the_shipped_config_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SUBGATE_PORT", "SUBGATE_HOST", "SUBGATE_AUTH_DIR", "SUBGATE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings(DEFAULT_CONFIG_PATH)
    assert s.port == 8317 and s.is_loopback_bind
    assert s.config_path == str(DEFAULT_CONFIG_PATH)
    pools = [e["litellm_params"].get("litellm_credential_name") for e in read_yaml(DEFAULT_CONFIG_PATH)["model_list"]]
    assert {"claude", "codex"} <= set(pools)


def test_load_settings_follows_subgate_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("gateway:\n  port: 9999\n")
    monkeypatch.setenv("SUBGATE_CONFIG", str(path))
    monkeypatch.delenv("SUBGATE_PORT", raising=False)
    assert load_settings().port == 9999


def test_unreadable_config_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("gateway: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_yaml(listy)


def test_headroom_strategy_and_soft_limit() -> None:
    s = settings({"gateway": {"routing-strategy": "headroom", "quota": {"soft-limit-percent": 75}}})
    assert s.routing_strategy == "headroom" and s.soft_limit_percent == 75.0
    assert settings({}).soft_limit_percent == 90.0
    for bad in (0, 101, "lots"):
        with pytest.raises(ConfigError, match="soft-limit-percent"):
            settings({"gateway": {"quota": {"soft-limit-percent": bad}}})
    with pytest.raises(ConfigError, match="gateway.quota"):
        settings({"gateway": {"quota": {"soft-limit": 80}}})
    with pytest.raises(ConfigError, match="gateway.quota"):
        settings({"gateway": {"quota": "90"}})
