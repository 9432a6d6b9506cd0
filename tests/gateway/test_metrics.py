"""/metrics parses as Prometheus text and says what the usage book and the accounts say."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import render
from gateway.usage import Tokens
from tests.gateway.operator_runtime import make_runtime, write_account, write_config


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def test_counters_and_account_gauges(tmp_path, monkeypatch):
    rt = make_runtime(write_config(tmp_path), monkeypatch)
    write_account(rt, "claude", "alice@example.com")
    write_account(rt, "codex", 'we"ird\\name@example.com', filename="codex-weird.json")
    alice = rt.store.find("claude", "alice@example.com")
    weird = rt.store.find("codex", 'we"ird\\name@example.com')
    rt.usage.record_success(alice.id, alice.email, "claude", "claude-sonnet", Tokens(100, 20, 80, 5))
    rt.usage.record_success(alice.id, alice.email, "claude", "claude-sonnet", Tokens(1, 2, 0, 0))
    rt.usage.record_failure(alice.id, alice.email, "claude", "claude-sonnet", 429)
    rt.quota.block(weird.id, time.time() + 300)

    got = samples(render(rt))
    base = {"provider": "claude", "model": "claude-sonnet", "account": "alice@example.com"}
    assert got[("subgate_requests_total", frozenset({**base, "status": "ok"}.items()))] == 2
    assert got[("subgate_requests_total", frozenset({**base, "status": "rate_limited"}.items()))] == 1
    assert got[("subgate_tokens_total", frozenset({**base, "kind": "input"}.items()))] == 101
    assert got[("subgate_tokens_total", frozenset({**base, "kind": "cached"}.items()))] == 80
    assert got[("subgate_tokens_total", frozenset({**base, "kind": "reasoning"}.items()))] == 5
    weird_labels = {"provider": "codex", "account": 'we"ird\\name@example.com'}
    assert got[("subgate_account_blocked", frozenset(weird_labels.items()))] == 1
    assert got[("subgate_account_blocked", frozenset({"provider": "claude", "account": "alice@example.com"}.items()))] == 0
    assert got[("subgate_account_state", frozenset({**weird_labels, "state": "blocked"}.items()))] == 1
    assert got[("subgate_account_state", frozenset({**weird_labels, "state": "ok"}.items()))] == 0
    assert got[("subgate_account_blocked_until_seconds", frozenset(weird_labels.items()))] > time.time()


def test_accounts_can_be_labelled_by_opaque_id(tmp_path, monkeypatch):
    rt = make_runtime(write_config(tmp_path), monkeypatch)
    write_account(rt, "claude", "alice@example.com")
    alice = rt.store.find("claude", "alice@example.com")
    rt.usage.record_success(alice.id, alice.email, "claude", "m", None)
    monkeypatch.setenv("SUBGATE_METRICS_ACCOUNT_LABEL", "id")
    text = render(rt)
    assert "alice@example.com" not in text
    assert ("subgate_requests_total", frozenset({"provider": "claude", "model": "m", "account": alice.id,
                                                 "status": "ok"}.items())) in samples(text)


def test_no_traffic_still_parses(tmp_path, monkeypatch):
    rt = make_runtime(write_config(tmp_path), monkeypatch)
    names = {f.name for f in text_string_to_metric_families(render(rt))}
    assert {"subgate_requests", "subgate_tokens", "subgate_account_blocked"} <= names
