"""`amp.url` written into Amp's settings.json without losing the user's other settings."""

from __future__ import annotations

import json
import os

import pytest

from amp.settings_file import AmpSettingsFileError, write_amp_url


def test_creates_the_file_and_folders(tmp_path):
    path = tmp_path / "config" / "amp" / "settings.json"
    assert write_amp_url("http://localhost:8317", path) == path
    assert json.loads(path.read_text()) == {"amp.url": "http://localhost:8317"}


def test_merges_keeping_the_users_keys_and_mode(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"amp.notifications.enabled": False, "amp.url": "https://ampcode.com", "amp.mcpServers": {"x": {"command": "y"}}}))
    os.chmod(path, 0o600)
    write_amp_url("http://127.0.0.1:8317", path)
    assert json.loads(path.read_text()) == {
        "amp.notifications.enabled": False,
        "amp.url": "http://127.0.0.1:8317",
        "amp.mcpServers": {"x": {"command": "y"}},
    }
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp file left behind


def test_empty_file_is_treated_as_no_settings(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("")
    write_amp_url("http://localhost:8317", path)
    assert json.loads(path.read_text()) == {"amp.url": "http://localhost:8317"}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_refuses_to_overwrite_a_file_it_cannot_read(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(AmpSettingsFileError):
        write_amp_url("http://localhost:8317", path)
    assert path.read_text() == content
