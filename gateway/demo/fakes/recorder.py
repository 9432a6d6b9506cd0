"""What every fake keeps: the requests it saw and a queue of scripted replies.

Tests assert on what reached the upstream (headers, body, which account's token) and script failures
(429 with reset info, 5xx, cut streams) per call or per account, the way CLIProxyAPI's tests do.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    account: str | None = None  # email of the account whose token was used, when known

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Recorder:
    requests: list[Recorded] = field(default_factory=list)
    _script: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The demo gateway runs for hours: it keeps only the newest requests so memory stays flat.
    keep_last: int | None = None

    def record(self, item: Recorded) -> None:
        with self._lock:
            self.requests.append(item)
            if self.keep_last is not None and len(self.requests) > self.keep_last:
                del self.requests[: len(self.requests) - self.keep_last]

    def script(self, reply: dict[str, Any], *, account: str | None = None, times: int = 1) -> None:
        """Queue a scripted reply for the next call (of `account`, when given)."""
        with self._lock:
            self._script.extend([(account, reply)] * times)

    def next_reply(self, account: str | None) -> dict[str, Any] | None:
        with self._lock:
            for i, (who, reply) in enumerate(self._script):
                if who is None or who == account:
                    del self._script[i]
                    return reply
        return None

    def peek(self, account: str | None) -> dict[str, Any] | None:
        """The reply `next_reply(account)` would return, left in the queue."""
        with self._lock:
            return next((reply for who, reply in self._script if who is None or who == account), None)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def for_path(self, suffix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(suffix)]

    def hits(self, account: str, suffix: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.account == account and r.path.endswith(suffix))
