"""Point the Amp CLI at the gateway by writing `amp.url` into Amp's own settings.json.

The file belongs to the user and to Amp: every other key is kept, and the write is atomic (temp file in the
same folder, fsync, rename) so a crash never leaves Amp with a half-written settings file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

DEFAULT_AMP_SETTINGS = Path("~/.config/amp/settings.json")
AMP_URL_KEY = "amp.url"


class AmpSettingsFileError(ValueError):
    """The existing settings file is not a JSON object; we refuse to overwrite the user's data."""


def write_amp_url(url: str, path: str | os.PathLike[str] = DEFAULT_AMP_SETTINGS) -> Path:
    """Set "amp.url" to `url` in Amp's settings.json (created if missing); returns the file written."""
    target = Path(path).expanduser()
    settings: dict = {}
    if target.exists():
        text = target.read_text(encoding="utf-8")
        if text.strip():
            try:
                settings = json.loads(text)
            except ValueError as exc:
                raise AmpSettingsFileError(f"{target} is not valid JSON; fix or remove it first") from exc
            if not isinstance(settings, dict):
                raise AmpSettingsFileError(f"{target} does not hold a JSON object; fix or remove it first")
    settings[AMP_URL_KEY] = url
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(settings, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
