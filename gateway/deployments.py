"""Expanding pool entries of model_list into one router deployment per account.

A YAML entry names a pool (`litellm_credential_name: claude`, every Claude login) or one account
(`claude:alice@example.com`). Giving LiteLLM's router one deployment per account is what makes its
load balancing, retries, cooldowns and session affinity work across subscriptions; the gateway's
hook then puts that account's current token into each attempt. Deployment ids are opaque hashes:
LiteLLM encodes them into response ids, which must not reveal an account's email.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any, Iterable, Mapping

from gateway.token_store import Account

POOL_KEY = "litellm_credential_name"
PLACEHOLDER_KEY = "set-per-request-by-subgate"
# LiteLLM's deployment-level allowed-fails policy (`model_info.allowed_fails_policy`), on account
# deployments only: a 401 never cools an account's deployment (the hook refreshes the token instead;
# a burst of expired tokens would otherwise cool them all). API-key entries keep LiteLLM's cooldowns.
ACCOUNT_ALLOWED_FAILS = {"AuthenticationErrorAllowedFails": 1_000_000}


def pool_of(entry: Mapping[str, Any], providers: Iterable[str]) -> tuple[str, str] | None:
    """(provider, email-or-"") for a pool entry, None for an ordinary LiteLLM entry."""
    params = entry.get("litellm_params") or {}
    name = str(params.get(POOL_KEY) or "")
    provider, _, email = name.partition(":")
    if provider in set(providers):
        return provider, email.strip()
    return None


def _deployment_id(provider: str, account: Account, model_name: str, index: int) -> str:
    digest = hashlib.sha256(f"{index}:{model_name}".encode()).hexdigest()[:8]
    return f"{provider}-{account.id}-{digest}"


def expand(
    templates: list[Mapping[str, Any]],
    accounts: Iterable[Account],
    api_bases: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The router's model_list for the current accounts (disabled ones left out)."""
    by_provider: dict[str, list[Account]] = {}
    for acct in accounts:
        if not acct.disabled:
            by_provider.setdefault(acct.provider, []).append(acct)
    out: list[dict[str, Any]] = []
    for index, entry in enumerate(templates):
        pool = pool_of(entry, api_bases)
        if pool is None:
            out.append(copy.deepcopy(dict(entry)))
            continue
        provider, email = pool
        for acct in by_provider.get(provider, []):
            if email and acct.email.lower() != email.lower():
                continue
            dep = copy.deepcopy(dict(entry))
            params = dep.setdefault("litellm_params", {})
            params.pop(POOL_KEY, None)
            params.setdefault("api_base", api_bases[provider])
            params["api_key"] = PLACEHOLDER_KEY
            info = dep.setdefault("model_info", {})
            info["id"] = _deployment_id(provider, acct, str(dep.get("model_name")), index)
            info["gw_account"] = acct.id
            info["gw_provider"] = provider
            info.setdefault("allowed_fails_policy", dict(ACCOUNT_ALLOWED_FAILS))
            out.append(dep)
    return out


def pool_model_names(templates: Iterable[Mapping[str, Any]], providers: Iterable[str]) -> dict[str, str]:
    """Public model name (or wildcard pattern) -> provider, for every pool entry."""
    providers = list(providers)
    out: dict[str, str] = {}
    for entry in templates:
        pool = pool_of(entry, providers)
        if pool is not None:
            out[str(entry.get("model_name"))] = pool[0]
    return out
