"""gateway.deployments: one router deployment per account for every pool entry of model_list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.deployments import PLACEHOLDER_KEY, expand, pool_model_names
from gateway.token_store import Account

API_BASES = {"claude": "https://api.anthropic.com", "codex": "https://chatgpt.com/backend-api/codex"}


def account(provider: str, email: str, **data: Any) -> Account:
    path = Path("/auth") / f"{provider}-{email}.json"
    return Account(provider=provider, path=path, data={"type": provider, "email": email, **data})


ALICE = account("claude", "alice@example.com")
BOB = account("claude", "bob@example.com")
CAROL = account("codex", "carol@example.com")
OFF = account("claude", "off@example.com", disabled=True)
ACCOUNTS = [ALICE, BOB, CAROL, OFF]

TEMPLATES: list[dict[str, Any]] = [
    {"model_name": "claude-sonnet-4-5", "litellm_params": {"model": "anthropic/claude-sonnet-4-5",
                                                           "litellm_credential_name": "claude"}},
    {"model_name": "gpt-5.1-codex", "litellm_params": {"model": "chatgpt/gpt-5.1-codex",
                                                       "litellm_credential_name": "codex"},
     "model_info": {"mode": "responses"}},
    {"model_name": "claude-alice", "litellm_params": {"model": "anthropic/claude-opus-4-5",
                                                      "litellm_credential_name": "claude:Alice@Example.com"}},
    {"model_name": "local", "litellm_params": {"model": "openai/local", "api_key": "sk-local"}},
]


def by_model(deps: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [d for d in deps if d["model_name"] == name]


def test_one_deployment_per_account_for_each_pool_entry() -> None:
    deps = expand(TEMPLATES, ACCOUNTS, API_BASES)
    claude = by_model(deps, "claude-sonnet-4-5")
    assert sorted(d["model_info"]["gw_account"] for d in claude) == sorted([ALICE.id, BOB.id])
    assert all(d["model_info"]["gw_provider"] == "claude" for d in claude)
    codex = by_model(deps, "gpt-5.1-codex")
    assert [d["model_info"]["gw_account"] for d in codex] == [CAROL.id]
    assert codex[0]["model_info"]["mode"] == "responses"  # the entry's own model_info is kept


def test_deployments_carry_no_credential_name_and_no_real_key() -> None:
    for dep in expand(TEMPLATES, ACCOUNTS, API_BASES):
        if "gw_account" in dep.get("model_info", {}):
            assert "litellm_credential_name" not in dep["litellm_params"]
            assert dep["litellm_params"]["api_key"] == PLACEHOLDER_KEY


def test_an_email_pin_serves_only_that_account() -> None:
    pinned = by_model(expand(TEMPLATES, ACCOUNTS, API_BASES), "claude-alice")
    assert [d["model_info"]["gw_account"] for d in pinned] == [ALICE.id]
    assert expand(TEMPLATES[2:3], [BOB], API_BASES) == []


def test_disabled_accounts_are_left_out() -> None:
    deps = expand(TEMPLATES, ACCOUNTS, API_BASES)
    assert OFF.id not in {d.get("model_info", {}).get("gw_account") for d in deps}


def test_ordinary_entries_are_untouched() -> None:
    deps = by_model(expand(TEMPLATES, ACCOUNTS, API_BASES), "local")
    assert deps == [TEMPLATES[3]]
    deps[0]["litellm_params"]["api_key"] = "changed"  # a copy: the templates survive router mutations
    assert TEMPLATES[3]["litellm_params"]["api_key"] == "sk-local"


def test_no_accounts_means_no_pool_deployments() -> None:
    assert expand(TEMPLATES, [], API_BASES) == [TEMPLATES[3]]


def test_ids_hide_emails_are_unique_and_stable() -> None:
    first = expand(TEMPLATES, ACCOUNTS, API_BASES)
    again = expand(TEMPLATES, list(reversed(ACCOUNTS)), API_BASES)
    ids = [d["model_info"]["id"] for d in first if "gw_account" in d.get("model_info", {})]
    assert len(ids) == len(set(ids)) == 4
    assert sorted(ids) == sorted(d["model_info"]["id"] for d in again if "gw_account" in d.get("model_info", {}))
    for dep_id in ids:
        assert "@" not in dep_id and "alice" not in dep_id and "example" not in dep_id


def test_api_base_defaults_per_provider_but_yaml_wins() -> None:
    deps = expand(TEMPLATES, ACCOUNTS, API_BASES)
    assert by_model(deps, "claude-sonnet-4-5")[0]["litellm_params"]["api_base"] == API_BASES["claude"]
    assert by_model(deps, "gpt-5.1-codex")[0]["litellm_params"]["api_base"] == API_BASES["codex"]
    own = [{"model_name": "m", "litellm_params": {"model": "anthropic/m", "litellm_credential_name": "claude",
                                                  "api_base": "http://127.0.0.1:9"}}]
    assert {d["litellm_params"]["api_base"] for d in expand(own, ACCOUNTS, API_BASES)} == {"http://127.0.0.1:9"}


def test_pool_model_names() -> None:
    assert pool_model_names(TEMPLATES, API_BASES) == {
        "claude-sonnet-4-5": "claude", "gpt-5.1-codex": "codex", "claude-alice": "claude"}
