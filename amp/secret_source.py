"""Where the Amp upstream secret comes from: config key, then AMP_API_KEY, then Amp's own login file.

`amp login` writes the key to ~/.local/share/amp/secrets.json, so a user who has logged in to Amp once needs
no configuration at all. The file is read at most once per TTL (5 minutes), empty and failed reads
included, because the proxy asks on every request. The file content is never logged.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Mapping, Protocol

from amp.settings import AmpSettings

log = logging.getLogger(__name__)

SECRETS_FILE_KEY = "apiKey@https://ampcode.com/"
DEFAULT_FILE_TTL = 300.0


class SecretSource(Protocol):
    def get(self) -> str:
        """The upstream secret, or "" when none is known (then no auth headers are sent)."""
        ...


class StaticSecretSource:
    """A fixed secret: the test seam, and for callers that resolve the key themselves."""

    def __init__(self, key: str) -> None:
        self._key = key.strip()

    def get(self) -> str:
        return self._key


class AmpSecretSource:
    """config `upstream_api_key` > env `AMP_API_KEY` > secrets.json, re-read per call except the file."""

    def __init__(
        self,
        settings: Callable[[], AmpSettings],
        *,
        file_ttl: float = DEFAULT_FILE_TTL,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._ttl = file_ttl if file_ttl > 0 else DEFAULT_FILE_TTL
        self._environ = environ if environ is not None else os.environ
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None  # (value, expires_at)
        self._seen_config: tuple[str, str] | None = None

    def get(self) -> str:
        settings = self._settings()
        self._invalidate_on_config_change(settings)
        explicit = settings.upstream_api_key.strip()
        if explicit:
            return explicit
        from_env = self._environ.get("AMP_API_KEY", "").strip()
        if from_env:
            return from_env
        return self._file_secret(settings.secrets_file)

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _invalidate_on_config_change(self, settings: AmpSettings) -> None:
        config = (settings.upstream_api_key, settings.secrets_file)
        with self._lock:
            if self._seen_config is not None and self._seen_config != config:
                self._cached = None
            self._seen_config = config

    def _file_secret(self, path: str) -> str:
        now = self._clock()
        with self._lock:
            if self._cached is not None and now < self._cached[1]:
                return self._cached[0]
            value = _read_secrets_file(Path(path).expanduser())
            self._cached = (value, now + self._ttl)
            return value


def _read_secrets_file(path: Path) -> str:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        log.warning("amp: cannot read secrets file %s (%s); sending no upstream auth", path, type(exc).__name__)
        return ""
    try:
        data = json.loads(raw)
    except ValueError:
        log.warning("amp: secrets file %s is not valid JSON; sending no upstream auth", path)
        return ""
    if not isinstance(data, dict):
        log.warning("amp: secrets file %s is not a JSON object; sending no upstream auth", path)
        return ""
    value = data.get(SECRETS_FILE_KEY)
    return value.strip() if isinstance(value, str) else ""
