"""Where the Amp upstream secret comes from, and how long a secrets.json read is trusted."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from amp.secret_source import SECRETS_FILE_KEY, AmpSecretSource, StaticSecretSource
from amp.settings import AmpSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write_secret(path, value) -> None:
    path.write_text(json.dumps({SECRETS_FILE_KEY: value, "other@https://x/": "nope"}))


def source(tmp_path, *, config="", env=None, ttl=300.0, clock=None, settings=None):
    settings = settings or AmpSettings(upstream_api_key=config, secrets_file=str(tmp_path / "secrets.json"))
    environ = {} if env is None else {"AMP_API_KEY": env}
    return AmpSecretSource(lambda: settings, file_ttl=ttl, environ=environ, clock=clock or Clock())


@pytest.mark.parametrize(
    ("config", "env", "file", "expected"),
    [
        ("cfg", "env", "file", "cfg"),
        ("", "env", "file", "env"),
        ("", None, "file", "file"),
        ("   ", "env", "file", "env"),
        ("", "   ", "file", "file"),
        ("", None, None, ""),
        ("  ", "  ", "  ", ""),
        ("  cfg  ", None, None, "cfg"),
    ],
)
def test_precedence(tmp_path, config, env, file, expected):
    if file is not None:
        write_secret(tmp_path / "secrets.json", file)
    assert source(tmp_path, config=config, env=env).get() == expected


def test_file_read_is_cached_for_the_ttl(tmp_path):
    path = tmp_path / "secrets.json"
    clock = Clock()
    secrets = source(tmp_path, ttl=60, clock=clock)
    write_secret(path, "v1")
    assert secrets.get() == "v1"
    write_secret(path, "v2")
    clock.now += 59
    assert secrets.get() == "v1"
    clock.now += 2
    assert secrets.get() == "v2"
    write_secret(path, "v3")
    secrets.invalidate()
    assert secrets.get() == "v3"


def test_default_ttl_is_five_minutes(tmp_path):
    clock = Clock()
    secrets = source(tmp_path, ttl=0, clock=clock)  # 0 means the default
    write_secret(tmp_path / "secrets.json", "v1")
    assert secrets.get() == "v1"
    write_secret(tmp_path / "secrets.json", "v2")
    clock.now += 299
    assert secrets.get() == "v1"
    clock.now += 2
    assert secrets.get() == "v2"


def test_missing_file_result_is_cached_too(tmp_path):
    clock = Clock()
    secrets = source(tmp_path, ttl=60, clock=clock)
    assert secrets.get() == ""
    write_secret(tmp_path / "secrets.json", "late")
    assert secrets.get() == ""
    clock.now += 61
    assert secrets.get() == "late"


def test_config_key_change_invalidates_the_file_cache(tmp_path):
    clock = Clock()
    settings = AmpSettings(secrets_file=str(tmp_path / "secrets.json"))
    current = [settings]
    secrets = AmpSecretSource(lambda: current[0], file_ttl=300, environ={}, clock=clock)
    write_secret(tmp_path / "secrets.json", "v1")
    assert secrets.get() == "v1"
    write_secret(tmp_path / "secrets.json", "v2")
    current[0] = replace(settings, upstream_api_key="explicit")
    assert secrets.get() == "explicit"
    current[0] = settings  # key removed again: the file is read afresh, not the warm v1
    assert secrets.get() == "v2"


def test_invalid_json_is_logged_without_its_content(tmp_path, caplog):
    (tmp_path / "secrets.json").write_text('{"apiKey@https://ampcode.com/": "sk-leak-me"')
    with caplog.at_level(logging.WARNING):
        assert source(tmp_path).get() == ""
    assert "not valid JSON" in caplog.text
    assert "sk-leak-me" not in caplog.text


@pytest.mark.parametrize("content", ['{"other": "value"}', '{"apiKey@https://ampcode.com/": "   "}', "[1, 2]", ""])
def test_absent_or_blank_key_gives_no_secret(tmp_path, content):
    (tmp_path / "secrets.json").write_text(content)
    assert source(tmp_path).get() == ""


def test_static_source_trims():
    assert StaticSecretSource("  test-key  ").get() == "test-key"
    assert StaticSecretSource("").get() == ""
