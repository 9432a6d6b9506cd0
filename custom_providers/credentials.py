"""Time fields of CLIProxyAPI-compatible credential files.

`expired` is an RFC 3339 timestamp (the reference system's key name), `last_refresh` too. Both
providers' OAuth clients return plain dicts in that file shape; gateway.token_store persists them.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timezone


def rfc3339(ts: float | None = None) -> str:
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_rfc3339(value: str | None) -> float | None:
    """Seconds since the epoch, or None for a missing or unreadable value (treated as expired)."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    # Go writes nanoseconds (".123456789"), Python parses at most microseconds.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(itertools.takewhile(str.isdigit, rest))  # stop at the zone: "+02:00" is not a fraction
        tail = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail}"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def expiry_from(expires_in: object, now: float | None = None) -> str:
    try:
        seconds = float(expires_in)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = 3600.0
    return rfc3339((time.time() if now is None else now) + seconds)
