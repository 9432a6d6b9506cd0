"""The Codex backend's x-codex-primary/secondary headers become a 5-hour and a weekly window."""

from __future__ import annotations

from custom_providers.codex.usage_headers import parse_usage_headers

HEAD = {
    "x-codex-primary-used-percent": "42.5",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-at": "1789990000",
    "x-codex-secondary-used-percent": "12",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-at": "1790500000",
}


def test_primary_is_the_five_hour_window_and_secondary_the_weekly() -> None:
    r = parse_usage_headers(HEAD)
    assert r is not None and not r.limited
    assert (r.five_hour.used_percent, r.five_hour.resets_at, r.five_hour.window_minutes) == (42.5, 1789990000, 300)
    assert (r.weekly.used_percent, r.weekly.resets_at, r.weekly.window_minutes) == (12.0, 1790500000, 10080)


def test_the_shorter_window_is_the_five_hour_one_whatever_its_name() -> None:
    swapped = {k.replace("primary", "tmp").replace("secondary", "primary").replace("tmp", "secondary"): v
               for k, v in HEAD.items()}
    r = parse_usage_headers(swapped)
    assert r.five_hour.window_minutes == 300 and r.five_hour.used_percent == 42.5
    assert r.weekly.window_minutes == 10080


def test_reset_after_seconds_when_no_reset_at_and_default_lengths() -> None:
    r = parse_usage_headers({"x-codex-primary-used-percent": "7", "x-codex-primary-reset-after-seconds": "600",
                             "llm_provider-x-codex-secondary-used-percent": "3"}, now=1000.0)
    assert r.five_hour.resets_at == 1600.0 and r.five_hour.window_minutes == 300
    assert r.weekly.used_percent == 3.0 and r.weekly.window_minutes == 10080 and r.weekly.resets_at is None


def test_limit_reached_is_flagged() -> None:
    r = parse_usage_headers({**HEAD, "x-codex-rate-limit-reached-type": "rate_limit_reached"})
    assert r.limited and r.status == "rejected"


def test_answers_without_usage_figures_give_nothing() -> None:
    assert parse_usage_headers({"content-type": "text/event-stream"}) is None
    assert parse_usage_headers({"x-codex-primary-window-minutes": "300"}) is None
    assert parse_usage_headers({"x-codex-primary-used-percent": "nan"}) is None
