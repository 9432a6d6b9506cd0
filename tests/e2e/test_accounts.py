"""Several accounts behaving like one bigger, reliable account (quota, failover, affinity, order)."""

from __future__ import annotations

import subprocess
import sys
import time

import anthropic
import httpx
import openai
import pytest

from tests.gateway_process import ROOT

MODEL = "claude-sonnet-4-5-20250929"
MSG = [{"role": "user", "content": "hello"}]


def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0)


def ask(gateway, **extra):
    return claude(gateway).messages.create(model=MODEL, max_tokens=64, messages=MSG, **extra)


def test_quota_on_a_fails_over_to_b_inside_the_request(gateway, accounts, claude_stack):
    a, b = accounts.add("claude"), accounts.add("claude")
    claude_stack.api.set_mode(a.email, {"status": 429, "reset_in": 3600})
    for _ in range(6):
        assert ask(gateway).content  # every request succeeds, gateway by B
    assert claude_stack.api.hits(a.email) == 1  # A was hit once, then blocked as an account
    assert claude_stack.api.hits(b.email) == 6
    out = subprocess.run([sys.executable, "-m", "gateway", "accounts"], cwd=ROOT, capture_output=True, text=True,
                         env={**gateway.env}, timeout=30)
    line = next(ln for ln in out.stdout.splitlines() if a.email in ln)
    assert "blocked until" in line


def test_blocked_account_is_used_again_after_its_reset(gateway, accounts, claude_stack):
    a, b = accounts.add("claude"), accounts.add("claude")
    claude_stack.api.recorder.script({"status": 429, "reset_in": 1, "unified": True}, account=a.email)
    for _ in range(4):
        ask(gateway)
    hits_while_blocked = claude_stack.api.hits(a.email)
    time.sleep(1.6)
    for _ in range(4):
        ask(gateway)
    assert claude_stack.api.hits(a.email) > hits_while_blocked


def test_all_accounts_blocked_gives_429_with_retry_after_fast(gateway, accounts, claude_stack):
    a, b = accounts.add("claude"), accounts.add("claude")
    for acct in (a, b):
        claude_stack.api.set_mode(acct.email, {"status": 429, "reset_in": 120})
    t0 = time.monotonic()
    with pytest.raises(anthropic.RateLimitError) as err:
        ask(gateway)
    assert time.monotonic() - t0 < 1.0
    retry_after = int(err.value.response.headers["retry-after"])
    assert 100 <= retry_after <= 121
    assert err.value.body["error"]["type"] == "rate_limit_error"
    assert MODEL in err.value.message
    t0 = time.monotonic()
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": MODEL, "messages": MSG})
    assert time.monotonic() - t0 < 1.0
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 100
    assert r.json()["error"]["resets_in_seconds"] >= 100
    assert "litellm" not in r.text.lower()


def test_client_error_is_not_retried_on_other_accounts(served, accounts, claude_stack):
    a, b = accounts.add("claude"), accounts.add("claude")
    with pytest.raises(anthropic.BadRequestError):
        claude(served).messages.create(model=MODEL, max_tokens=2000, messages=MSG,
                                        thinking={"type": "enabled", "budget_tokens": 100})
    assert claude_stack.api.hits(a.email) + claude_stack.api.hits(b.email) == 1


def test_server_errors_move_to_the_next_account(served, accounts, claude_stack):
    a, b = accounts.add("claude"), accounts.add("claude")
    claude_stack.api.set_mode(a.email, {"status": 503})
    for _ in range(4):
        assert ask(served).content
    assert claude_stack.api.hits(b.email) == 4


def test_stream_cut_before_first_byte_fails_over(served, accounts, claude_stack):
    a, b = accounts.add("claude"), accounts.add("claude")
    claude_stack.api.set_mode(a.email, {"mode": "cut_before"})
    for _ in range(3):
        with claude(served).messages.stream(model=MODEL, max_tokens=64, messages=MSG) as s:
            text = s.get_final_text()
        assert text.startswith("Hello from fake")


def test_stream_cut_after_first_byte_ends_with_error_not_hang(gateway, accounts, claude_stack):
    a = accounts.add("claude")
    claude_stack.api.set_mode(a.email, {"mode": "cut_after", "events": 3})
    t0 = time.monotonic()
    with httpx.stream("POST", gateway.url + "/v1/messages", timeout=10,
                      headers={"anthropic-version": "2023-06-01"},
                      json={"model": MODEL, "max_tokens": 64, "messages": MSG, "stream": True}) as r:
        body = b"".join(r.iter_bytes())
    assert time.monotonic() - t0 < 5
    assert b"message_start" in body
    assert b"message_stop" not in body
    assert b"error" in body


def test_session_stays_on_one_account(served, accounts, claude_stack):
    a, b = accounts.add("claude"), accounts.add("claude")
    for _ in range(20):
        ask(served, extra_headers={"x-claude-code-session-id": "sess-affinity-1"})
    assert sorted([claude_stack.api.hits(a.email), claude_stack.api.hits(b.email)]) == [0, 20]


def test_round_robin_spreads_requests(served, accounts, claude_stack):
    a, b = accounts.add("claude"), accounts.add("claude")
    for _ in range(10):
        ask(served)
    assert claude_stack.api.hits(a.email) == 5 and claude_stack.api.hits(b.email) == 5


def test_priority_and_disabled_flags_are_honoured(served, accounts, claude_stack):
    low = accounts.add("claude")
    high = accounts.add("claude", extra={"priority": 5})
    off = accounts.add("claude", extra={"disabled": True, "priority": 9})
    for _ in range(5):
        ask(served)
    assert claude_stack.api.hits(high.email) == 5
    assert claude_stack.api.hits(low.email) == 0 and claude_stack.api.hits(off.email) == 0


def test_models_hidden_when_only_disabled_accounts(gateway, accounts):
    accounts.add("claude", extra={"disabled": True})
    ids = [m["id"] for m in httpx.get(gateway.url + "/v1/models").json()["data"]]
    assert MODEL not in ids


def test_models_kept_while_accounts_only_cool_down(gateway, accounts, claude_stack):
    a = accounts.add("claude")
    claude_stack.api.set_mode(a.email, {"status": 429, "reset_in": 600})
    with pytest.raises(anthropic.RateLimitError):
        ask(gateway)
    ids = [m.id for m in openai.OpenAI(base_url=gateway.url + "/v1", api_key="k").models.list().data]
    assert MODEL in ids


@pytest.mark.parametrize("provider,path,body", [
    ("claude", "/v1/messages", {"model": MODEL, "max_tokens": 64, "messages": MSG, "stream": True}),
    ("codex", "/v1/responses", {"model": "gpt-5.1", "input": "x", "stream": True}),
    ("codex", "/v1/chat/completions", {"model": "gpt-5.1", "messages": MSG, "stream": True}),
    ("claude", "/v1/chat/completions", {"model": MODEL, "messages": MSG, "stream": True}),
])
def test_mid_stream_cut_reads_as_plain_words(gateway, accounts, claude_stack, codex_stack, provider, path, body):
    acct = accounts.add(provider)
    fake = claude_stack.api if provider == "claude" else codex_stack.api
    fake.set_mode(acct.email, {"mode": "cut_after", "events": 3})
    t0 = time.monotonic()
    with httpx.stream("POST", gateway.url + path, json=body, timeout=20,
                      headers={"anthropic-version": "2023-06-01"}) as r:
        data = b"".join(r.iter_bytes())
    assert time.monotonic() - t0 < 5
    assert b"connection closed before the response was complete" in data
    for internal in (b"TransferEncodingError", b"aiohttp", b"LiteLLM", b"litellm."):
        assert internal not in data
    if r.status_code != 200:
        assert r.status_code == 502
