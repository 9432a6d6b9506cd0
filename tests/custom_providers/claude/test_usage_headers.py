"""Anthropic's unified rate-limit headers become a 5-hour and a weekly window in percent."""

from __future__ import annotations

from custom_providers.claude.usage_headers import parse_usage_headers

HEAD = {
    "anthropic-ratelimit-unified-status": "allowed_warning",
    "anthropic-ratelimit-unified-reset": "1790000000",
    "anthropic-ratelimit-unified-representative-claim": "seven_day",
    "anthropic-ratelimit-unified-5h-status": "allowed",
    "anthropic-ratelimit-unified-5h-utilization": "0.42",
    "anthropic-ratelimit-unified-5h-reset": "1789990000",
    "anthropic-ratelimit-unified-7d-status": "allowed_warning",
    "anthropic-ratelimit-unified-7d-utilization": "0.87",
    "anthropic-ratelimit-unified-7d-reset": "1790000000",
    "request-id": "req_1",
}


def test_a_success_head_gives_both_windows_in_percent() -> None:
    r = parse_usage_headers(HEAD)
    assert r is not None
    assert (r.five_hour.used_percent, r.five_hour.resets_at, r.five_hour.window_minutes) == (42.0, 1789990000, 300)
    assert (r.weekly.used_percent, r.weekly.resets_at, r.weekly.window_minutes) == (87.0, 1790000000, 10080)
    assert (r.status, r.claim, r.limited) == ("allowed_warning", "seven_day", False)


def test_litellm_prefixed_and_mixed_case_names_are_read() -> None:
    head = {f"llm_provider-{k.title()}": v for k, v in HEAD.items()}
    r = parse_usage_headers(head)
    assert r is not None and r.five_hour.used_percent == 42.0 and r.weekly.used_percent == 87.0


def test_a_rejected_window_without_a_figure_counts_as_full() -> None:
    r = parse_usage_headers({
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-5h-status": "rejected",
        "anthropic-ratelimit-unified-5h-reset": "1789990000",
        "anthropic-ratelimit-unified-7d-status": "allowed",
    })
    assert r is not None and r.limited
    assert r.five_hour.used_percent == 100.0 and r.five_hour.resets_at == 1789990000
    assert r.weekly is None  # no figure and not rejected: unknown, not zero


def test_answers_without_usage_figures_give_nothing() -> None:
    assert parse_usage_headers({"request-id": "x", "content-type": "application/json"}) is None
    assert parse_usage_headers({"anthropic-ratelimit-unified-status": "allowed"}) is None
    assert parse_usage_headers({"anthropic-ratelimit-unified-5h-utilization": "lots"}) is None
