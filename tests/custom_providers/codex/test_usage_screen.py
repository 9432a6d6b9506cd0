"""The /wham/usage body Codex CLI decodes strictly: integers, a known plan name, null for unknown windows."""

from __future__ import annotations

from custom_providers.registry import registry
from custom_providers.usage_reading import Window

NOW = 1_800_000_000.0


def test_the_body_codex_cli_decodes() -> None:
    codex = registry.configure({})["codex"]
    assert "/backend-api/wham/usage" in codex.usage_screen_paths
    body = codex.usage_screen("pro", Window(42.6, NOW + 3600.5, 300), Window(101.0, NOW + 86400, 10080),
                              limit_reached=False, now=NOW)
    assert body == {"plan_type": "pro", "rate_limit": {
        "allowed": True, "limit_reached": False,
        "primary_window": {"used_percent": 43, "limit_window_seconds": 18000, "reset_after_seconds": 3600,
                           "reset_at": 1800003600},
        "secondary_window": {"used_percent": 100, "limit_window_seconds": 604800, "reset_after_seconds": 86400,
                             "reset_at": 1800086400}}}


def test_unknown_windows_are_null_and_unknown_plans_a_known_name() -> None:
    codex = registry.configure({})["codex"]
    body = codex.usage_screen("", None, None, limit_reached=True, now=NOW)
    assert body["plan_type"] == "plus"
    assert body["rate_limit"] == {"allowed": False, "limit_reached": True, "primary_window": None,
                                  "secondary_window": None}


def test_each_provider_reads_its_own_usage_headers() -> None:
    providers = registry.configure({})
    claude = providers["claude"].usage_from_headers({"anthropic-ratelimit-unified-5h-utilization": "0.5"})
    codex = providers["codex"].usage_from_headers({"x-codex-primary-used-percent": "50"})
    assert claude.five_hour.used_percent == 50.0 and codex.five_hour.used_percent == 50.0
    assert providers["claude"].usage_from_headers({"x-codex-primary-used-percent": "50"}) is None
    assert providers["codex"].usage_from_headers({"anthropic-ratelimit-unified-5h-utilization": "0.5"}) is None
    assert not providers["claude"].usage_screen_paths


def test_accounts_check_lists_the_callers_own_workspace_without_routing() -> None:
    codex = registry.configure({})["codex"]
    assert "/backend-api/wham/accounts/check" in codex.account_check_paths
    body = codex.account_check("acct-123", "pro")
    (entry,) = body["accounts"]  # Codex CLI refuses a missing or a duplicated entry for its account id
    assert entry["id"] == "acct-123" and entry["plan_type"] == "pro"
    assert entry["workspace_backend_origin"] == entry["account_routing_override"] == "NO_CONSTRAINT"
    assert body["account_ordering"] == ["acct-123"] and body["default_account_id"] == "acct-123"
    assert codex.account_check("", "pro")["accounts"] == []
