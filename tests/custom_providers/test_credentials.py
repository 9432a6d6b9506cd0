"""custom_providers.credentials: the `expired` timestamps CLIProxyAPI (Go) writes and reads."""

from __future__ import annotations

from custom_providers.credentials import expiry_from, parse_rfc3339, rfc3339

T = 1_750_000_000.0  # 2025-06-15T15:06:40Z


def test_rfc3339_is_utc_with_z() -> None:
    assert rfc3339(T) == "2025-06-15T15:06:40Z"
    assert parse_rfc3339(rfc3339(T)) == T


def test_go_timestamps_with_nanoseconds_and_offsets_parse() -> None:
    assert parse_rfc3339("2025-06-15T15:06:40.123456789Z") == T + 0.123456
    assert parse_rfc3339("2025-06-15T17:06:40.5+02:00") == T + 0.5
    assert parse_rfc3339("2025-06-15T15:06:40") == T  # no zone: taken as UTC


def test_unreadable_values_count_as_unknown() -> None:
    for value in (None, "", "tomorrow", "2025-13-45T00:00:00Z", 12345):
        assert parse_rfc3339(value) is None  # type: ignore[arg-type]


def test_expiry_from_expires_in() -> None:
    assert expiry_from(3600, now=T) == rfc3339(T + 3600)
    assert expiry_from("28800", now=T) == rfc3339(T + 28800)
    assert expiry_from(None, now=T) == rfc3339(T + 3600)
