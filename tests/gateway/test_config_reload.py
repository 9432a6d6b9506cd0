"""gateway/config_reload.py: YAML edits apply while the gateway runs; provider settings are rebuilt,
and keys that need a restart are named in the log instead of silently ignored."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tests.gateway.operator_runtime import make_runtime, write_config


def _edit(config: Path, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    stat = config.stat()
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_provider_settings_are_rebuilt_on_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUBGATE_CLAUDE_API_BASE", raising=False)
    config = write_config(tmp_path)
    rt = make_runtime(config, monkeypatch)
    assert rt.providers["claude"].api_base == "https://api.anthropic.com"
    _edit(config, "gateway:\n", "gateway:\n  claude:\n    api-base: http://127.0.0.1:9/anthropic\n")
    assert rt.reload_config_if_changed() is True
    assert rt.providers["claude"].api_base == "http://127.0.0.1:9/anthropic"
    assert rt.api_bases["claude"] == "http://127.0.0.1:9/anthropic"


def test_keys_that_need_a_restart_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    config = write_config(tmp_path)
    rt = make_runtime(config, monkeypatch)
    port = rt.settings.port
    _edit(config, "  host: 127.0.0.1\n", f"  host: 127.0.0.1\n  port: {port + 1}\n")
    with caplog.at_level(logging.INFO, logger="subgate"):
        assert rt.reload_config_if_changed() is True
    assert rt.settings.port == port
    assert f"config change of port needs a restart; still using {port}" in caplog.text
