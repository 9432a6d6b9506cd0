"""Subscription headroom through the real gateway: usage read from every answer, shown, and used to route.

The fakes report each account's 5-hour and weekly usage on every answer, growing with use, and refuse
with 429 once a window is full (gateway/demo/fakes/usage_meter.py). Each test gets fresh accounts, two
per vendor, one of them near its limit. The gateway here runs the shipped config (`routing-strategy:
headroom`, the default) unless a test switches it (the YAML is reloaded while running).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import Accounts, AmpStack, ClaudeStack, CodexStack, accounts_in, gateway_env
from tests.gateway_process import ROOT, GatewayProcess

CLAUDE = "claude-sonnet-4-5-20250929"
CODEX = "gpt-5.1-codex"


@dataclass
class HeadroomGateway:
    gw: GatewayProcess
    auth: Path
    config: Path
    text: str
    strategy: str = "headroom"

    @property
    def url(self) -> str:
        return self.gw.url

    def use(self, strategy: str) -> None:
        """Switch the routing strategy by editing the YAML, and wait until the gateway says it applied it."""
        if strategy == self.strategy:
            return
        before = self.gw.log_text().count("config reloaded: routing-strategy changed")
        self.config.write_text(self.text.replace("routing-strategy: headroom", f"routing-strategy: {strategy}"))
        deadline = time.monotonic() + 15
        while self.gw.log_text().count("config reloaded: routing-strategy changed") == before:
            assert time.monotonic() < deadline, "the gateway did not reload its routing strategy"
            time.sleep(0.05)
        self.strategy = strategy


@pytest.fixture(scope="module")
def hr(claude_stack: ClaudeStack, codex_stack: CodexStack, amp_stack: AmpStack,
       tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeadroomGateway]:
    root = tmp_path_factory.mktemp("headroom")
    auth = root / "auth"
    auth.mkdir(mode=0o700)
    text = (ROOT / "config" / "litellm.yaml").read_text()  # the shipped config: headroom is the default
    assert "routing-strategy: headroom" in text and "soft-limit-percent: 90" in text and "api-keys: []" in text
    text = text.replace("api-keys: []", 'api-keys: ["k"]')  # the usage screens are answered without one
    config = root / "litellm.yaml"
    config.write_text(text)
    with GatewayProcess(gateway_env(claude_stack, codex_stack, auth, amp_stack), log_path=root / "gateway.log",
                        config=config) as gw:
        hg = HeadroomGateway(gw, auth, config, text)
        yield hg


@pytest.fixture
def accts(hr: HeadroomGateway, claude_stack: ClaudeStack, codex_stack: CodexStack) -> Iterator[Accounts]:
    try:
        yield from accounts_in(hr.auth, claude_stack, codex_stack)
    finally:
        hr.use("headroom")


def claude(hr: HeadroomGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=hr.url, api_key="k", max_retries=0)


def codex(hr: HeadroomGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=hr.url + "/v1", api_key="k", max_retries=0)


def ask_claude(hr: HeadroomGateway, session: str, *, stream: bool = False) -> None:
    r = claude(hr).messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"x-claude-code-session-id": session}, stream=stream)
    if stream:
        list(r)


def wait_snapshots(hr: HeadroomGateway, *emails: str) -> dict[str, Any]:
    """The accounts as /ui/data.json shows them, once every named account has a usage reading."""
    deadline = time.monotonic() + 10
    while True:
        data = httpx.get(hr.url + "/ui/data.json").json()
        accounts = {a["email"]: a for a in data["accounts"]}
        if all(accounts.get(e, {}).get("limits") for e in emails):
            return accounts
        assert time.monotonic() < deadline, f"no usage reading for {emails}: {accounts}"
        time.sleep(0.05)


# ---- the view ------------------------------------------------------------------------------------------

def test_accounts_views_show_the_fakes_numbers(hr, accts, claude_stack, codex_stack) -> None:
    a, b = accts.add("claude"), accts.add("codex")
    claude_stack.api.meter.set(a.email, five_hour=42, weekly=17, cost=1)
    codex_stack.api.meter.set(b.email, five_hour=63, weekly=8, cost=2)
    ask_claude(hr, "view-1", stream=True)  # the Messages stream: read from the response head
    codex(hr).responses.create(model=CODEX, input="hi")
    accounts = wait_snapshots(hr, a.email, b.email)
    claude_now, codex_now = claude_stack.api.meter.read(a.email), codex_stack.api.meter.read(b.email)
    assert (claude_now.five_hour_used, claude_now.weekly_used) == (43, 17.1)
    la, lb = accounts[a.email]["limits"], accounts[b.email]["limits"]
    assert la["five_hour"]["used_percent"] == 43.0 and la["weekly"]["used_percent"] == 17.1
    assert lb["five_hour"]["used_percent"] == 65.0 and lb["weekly"]["used_percent"] == 8.2
    assert la["source"] == lb["source"] == "fresh"
    assert abs(la["five_hour"]["resets_in_seconds"] - (claude_now.five_hour_reset - time.time())) < 5
    assert lb["weekly"]["window_minutes"] == 7 * 24 * 60

    metrics = httpx.get(hr.url + "/metrics").text
    assert f'subgate_account_usage_percent{{provider="codex",account="{b.email}",window="five_hour"}} 65.0' in metrics
    assert f'subgate_account_usage_estimated{{provider="claude",account="{a.email}",window="weekly"}} 0' in metrics

    deadline = time.monotonic() + 10  # the CLI reads what the gateway saved to auth-dir
    while True:
        out = subprocess.run([sys.executable, "-m", "gateway", "accounts"], cwd=ROOT, capture_output=True, text=True,
                             env=hr.gw.env, timeout=60)
        lines = {ln.split()[1]: ln for ln in out.stdout.splitlines()[1:] if len(ln.split()) > 1}
        if "43% (resets in 5.0 h)" in lines.get(a.email, "") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "43% (resets in 5.0 h)" in lines[a.email] and "17.1% (resets in 7.0 d)" in lines[a.email]
    assert "65% (resets in 5.0 h)" in lines[b.email]
    page = httpx.get(hr.url + "/ui").text
    assert "5-hour window" in page and "Weekly window" in page


# ---- routing -------------------------------------------------------------------------------------------

def test_new_conversations_go_to_the_other_account_before_any_429(hr, accts, claude_stack, codex_stack) -> None:
    full, spare = accts.add("claude"), accts.add("claude")
    claude_stack.api.meter.set(full.email, five_hour=94, cost=1)  # past the 90 % soft limit, 6 answers left
    claude_stack.api.meter.set(spare.email, five_hour=30, cost=1)
    for i in range(12):
        ask_claude(hr, f"new-{i}")
    # the first answer of each account tells the gateway where it stands (recorded when LiteLLM logs the
    # answer, so at most one more request may be routed before it lands); from then on new conversations
    # avoid the full one, so it never reaches its limit and no 429 happens at all
    assert claude_stack.api.hits(full.email) <= 2
    assert claude_stack.api.hits(spare.email) >= 10
    assert claude_stack.api.meter.read(full.email).five_hour_used < 100

    x_full, x_spare = accts.add("codex"), accts.add("codex")
    codex_stack.api.meter.set(x_full.email, weekly=97, cost=1, weekly_ratio=0.5)  # the weekly window is the tight one
    codex_stack.api.meter.set(x_spare.email, five_hour=50, weekly=10, cost=1)
    for i in range(8):
        codex(hr).responses.create(model=CODEX, input="hi", extra_headers={"session-id": f"x-new-{i}"})
    assert codex_stack.api.hits(x_full.email) <= 2 and codex_stack.api.hits(x_spare.email) >= 6
    assert codex_stack.api.meter.read(x_full.email).weekly_used < 100


def test_a_pinned_conversation_stays_until_its_429_then_moves(hr, accts, claude_stack) -> None:
    a, b = accts.add("claude"), accts.add("claude")
    meter = claude_stack.api.meter
    meter.set(a.email, five_hour=10, cost=1)
    meter.set(b.email, five_hour=50, cost=1)
    for i in range(6):  # one answer from each so the gateway knows both
        ask_claude(hr, f"warm-{i}")
        if claude_stack.api.hits(a.email) and claude_stack.api.hits(b.email):
            break
    wait_snapshots(hr, a.email, b.email)
    ask_claude(hr, "pinned")
    assert claude_stack.api.messages_requests(a.email)[-1].headers.get("x-claude-code-session-id") == "pinned"
    meter.set(a.email, five_hour=96)  # other use of the subscription: "pinned"'s account is nearly spent
    hits_a = claude_stack.api.hits(a.email)
    for _ in range(3):  # past the soft limit the conversation stays (its prompt cache lives there)
        ask_claude(hr, "pinned")
    assert claude_stack.api.hits(a.email) == hits_a + 3
    ask_claude(hr, "someone-else")  # a new conversation does not go to the nearly spent account
    assert claude_stack.api.messages_requests(b.email)[-1].headers["x-claude-code-session-id"] == "someone-else"
    ask_claude(hr, "pinned")  # 99 % -> 100 %: the last answer it had room for
    hits_b = claude_stack.api.hits(b.email)
    ask_claude(hr, "pinned")  # the account answers 429; the request moves to b inside the gateway
    assert claude_stack.api.hits(a.email) == hits_a + 5
    assert claude_stack.api.hits(b.email) == hits_b + 1
    ask_claude(hr, "pinned")  # and the conversation now lives on b
    assert claude_stack.api.hits(a.email) == hits_a + 5 and claude_stack.api.hits(b.email) == hits_b + 2


# ---- Codex CLI's /status -------------------------------------------------------------------------------

def check_codex_usage_shape(body: dict[str, Any]) -> None:
    """What Codex CLI's decoder requires of /wham/usage (codex-rs backend models): a known plan name,
    booleans, and integer percent and seconds in each window."""
    assert body["plan_type"] in ("guest", "free", "go", "plus", "pro", "free_workspace", "team", "business",
                                 "education", "quorum", "k12", "enterprise", "edu")
    rl = body["rate_limit"]
    assert isinstance(rl["allowed"], bool) and isinstance(rl["limit_reached"], bool)
    for name in ("primary_window", "secondary_window"):
        window = rl[name]
        assert set(window) == {"used_percent", "limit_window_seconds", "reset_after_seconds", "reset_at"}
        assert all(type(v) is int for v in window.values()), window


def test_wham_usage_answers_from_the_pinned_account_or_the_pool(hr, accts, codex_stack) -> None:
    a, b = accts.add("codex"), accts.add("codex")
    meter = codex_stack.api.meter
    meter.set(a.email, five_hour=20, weekly=40, cost=1)
    meter.set(b.email, five_hour=70, weekly=10, cost=1)
    codex(hr).responses.create(model=CODEX, input="hi", extra_headers={"session-id": "status-1"})
    codex(hr).responses.create(model=CODEX, input="hi", extra_headers={"session-id": "status-2"})
    wait_snapshots(hr, a.email, b.email)
    pinned_to = a if codex_stack.api.recorder.for_path("/backend-api/codex/responses")[-2].account == a.email else b

    # the exact requests Codex CLI 0.169 sends for /status (seen by tests/e2e_cli/test_codex_status.py): its
    # own ChatGPT token and account id, not a gateway key (this gateway has one; loopback callers need none)
    cli_account = "cli-own-account-id"
    login = {"authorization": "Bearer the-cli-own-token", "chatgpt-account-id": cli_account, "accept": "*/*"}
    check = httpx.get(hr.url + "/backend-api/wham/accounts/check", headers={
        **login, "user-agent": "codex_cli_rs/0.169.0 (Debian 12.0.0; x86_64) xterm-256color"})
    assert check.status_code == 200, check.text
    entries = [e for e in check.json()["accounts"] if e["id"] == cli_account]  # Codex needs exactly one
    assert len(entries) == 1 and entries[0]["workspace_backend_origin"] == "NO_CONSTRAINT"
    assert entries[0]["account_routing_override"] in ("NO_CONSTRAINT", "us", "us_cr")
    upstream_check = httpx.get(codex_stack.api_url + "/backend-api/wham/accounts/check",
                               headers={"authorization": f"Bearer {a.grant.access_token}"}).json()
    assert set(upstream_check["accounts"][0]) == set(entries[0])  # the backend's own shape, field for field
    assert httpx.get(hr.url + "/v1/models", headers=login).status_code == 401  # the rest still wants a key
    status = httpx.get(hr.url + "/backend-api/wham/usage", headers={
        **login, "x-openai-codex-luna-reserve": "1",
        "user-agent": "codex-tui/0.169.0 (Debian 12.0.0; x86_64) xterm-256color (codex-tui; 0.169.0)"})
    assert status.status_code == 200 and status.headers["content-type"] == "application/json", status.text
    pool = status.json()  # the CLI's own account is none of the gateway's: the pool's mean
    check_codex_usage_shape(pool)
    ra, rb = meter.read(a.email), meter.read(b.email)
    assert pool["rate_limit"]["primary_window"]["used_percent"] == round((ra.five_hour_used + rb.five_hour_used) / 2)
    assert pool["rate_limit"]["limit_reached"] is False

    # a caller that names its conversation (session-id, as on its model requests) sees that account's figures
    answer = httpx.get(hr.url + "/backend-api/wham/usage", headers={**login, "session-id": "status-1"})
    body = answer.json()
    check_codex_usage_shape(body)
    reading = meter.read(pinned_to.email)
    assert body["rate_limit"]["primary_window"]["used_percent"] == round(reading.five_hour_used)
    assert body["rate_limit"]["secondary_window"]["used_percent"] == round(reading.weekly_used)
    assert body["rate_limit"]["primary_window"]["limit_window_seconds"] == 5 * 3600
    assert abs(body["rate_limit"]["primary_window"]["reset_at"] - reading.five_hour_reset) <= 1

    # the fake's own /wham/usage for that account has the same shape and the same figures
    upstream = httpx.get(codex_stack.api_url + "/backend-api/wham/usage",
                         headers={"authorization": f"Bearer {pinned_to.grant.access_token}"}).json()
    check_codex_usage_shape(upstream)
    assert upstream["rate_limit"]["primary_window"]["used_percent"] == body["rate_limit"]["primary_window"]["used_percent"]

    by_account = httpx.get(hr.url + "/backend-api/wham/usage", headers={"chatgpt-account-id": b.grant.account_id}).json()
    assert by_account["rate_limit"]["primary_window"]["used_percent"] == round(rb.five_hour_used)
    assert httpx.post(hr.url + "/backend-api/wham/usage").status_code == 405


# ---- headroom against round-robin ----------------------------------------------------------------------

@dataclass
class Outcome:
    ok: int = 0
    client_429: int = 0
    refused_after_move: int = 0  # a conversation moved off its spent account and the new one refused its history
    other: dict[str, int] = field(default_factory=dict)
    upstream_hits: dict[str, int] = field(default_factory=dict)

    @property
    def failed_at_the_limit(self) -> int:
        return self.client_429 + self.refused_after_move


def learn_both(hr: HeadroomGateway, stack: Any, ask: Any, a: str, b: str) -> None:
    """Plain requests (no conversation) until the gateway has a usage reading of both accounts."""
    for _ in range(6):
        ask()
        if stack.api.hits(a) and stack.api.hits(b):
            break
    wait_snapshots(hr, a, b)


RESET_AT_REQUEST = 67  # the morning accounts' 5-hour windows end a third of the way into the run
RESET_AFTER_SECONDS = 12.0  # ... or this long after the run starts, when the machine is slower


def mixed_run(hr: HeadroomGateway, accts: Accounts, claude_stack: ClaudeStack, codex_stack: CodexStack,
              seed: int = 14) -> Outcome:
    """200 requests of Claude Code-like and Codex CLI-like conversations (new ones and later turns),
    streamed and not, on two accounts per vendor whose 5-hour windows are at different points, as
    accounts in daily use are: the "morning" account was used a little early on (10 %) and its window
    ends a third of the way into the run (then it starts again from 0); the "afternoon" account started its
    window recently and is 40 % used. Every answer costs 3 % of a 5-hour window (a long agent turn on a
    Plus plan) and 0.3 % of the week; more is asked than the accounts can give."""
    ca, cb = accts.add("claude", wait=False), accts.add("claude", wait=False)
    xa, xb = accts.add("codex", wait=False), accts.add("codex")
    for meter, (morning, afternoon) in ((claude_stack.api.meter, (ca, cb)), (codex_stack.api.meter, (xa, xb))):
        meter.set(morning.email, five_hour=10, weekly=30, cost=3, five_hour_resets_in=RESET_AFTER_SECONDS)
        meter.set(afternoon.email, five_hour=40, weekly=30, cost=3)
    resets_at = claude_stack.api.meter.read(ca.email).five_hour_reset
    learn_both(hr, claude_stack, lambda: claude(hr).messages.create(
        model=CLAUDE, max_tokens=16, messages=[{"role": "user", "content": "hi"}]), ca.email, cb.email)
    learn_both(hr, codex_stack, lambda: codex(hr).responses.create(model=CODEX, input="hi"), xa.email, xb.email)
    rnd = random.Random(seed)
    conversations: list[dict[str, Any]] = []
    out = Outcome()
    for i in range(200):
        if i == RESET_AT_REQUEST:  # the schedule, not the pace of this machine, decides where the reset falls
            time.sleep(max(0.0, resets_at - time.time()) + 0.05)
        if not conversations or rnd.random() < 0.35:
            kind = rnd.choice(["claude", "claude-stream", "codex", "codex"])
            conversations.append({"id": f"{hr.strategy}-{seed}-{i}", "kind": kind, "history": []})
        conv = rnd.choice(conversations[-10:])
        try:
            if conv["kind"].startswith("claude"):
                ask_claude(hr, conv["id"], stream=conv["kind"] == "claude-stream")
            else:  # Codex CLI replays each turn's reasoning (encrypted for the account that served it)
                turn = conv["history"] + [{"role": "user", "content": f"turn {i}"}]
                r = codex(hr).responses.create(model=CODEX, input=turn, include=["reasoning.encrypted_content"],
                                               extra_headers={"session-id": conv["id"]})
                conv["history"] = turn + [o.model_dump(exclude_none=True, exclude={"status"}) for o in r.output]
            out.ok += 1
        except (anthropic.RateLimitError, openai.RateLimitError):
            out.client_429 += 1
        except openai.BadRequestError as exc:
            assert "encrypted content" in str(exc), exc
            out.refused_after_move += 1
            conversations.remove(conv)  # the user starts over
        except Exception as exc:  # noqa: BLE001 - counted and shown, the assertions below decide
            key = f"{type(exc).__name__} {getattr(exc, 'status_code', '')}"
            out.other[key] = out.other.get(key, 0) + 1
    out.upstream_hits = {"claude morning": claude_stack.api.hits(ca.email),
                         "claude afternoon": claude_stack.api.hits(cb.email),
                         "codex morning": codex_stack.api.hits(xa.email),
                         "codex afternoon": codex_stack.api.hits(xb.email)}
    accts.cleanup()
    accts.added.clear()
    return out


def test_headroom_against_round_robin_over_200_mixed_requests(hr, accts, claude_stack, codex_stack) -> None:
    hr.use("round-robin")
    rr = mixed_run(hr, accts, claude_stack, codex_stack)
    hr.use("headroom")
    hd = mixed_run(hr, accts, claude_stack, codex_stack)
    print(f"\nround-robin: {rr.client_429} 429s reached the client, {rr.refused_after_move} conversations refused "
          f"after a move, {rr.ok} ok, upstream hits {json.dumps(rr.upstream_hits)}")
    print(f"headroom:    {hd.client_429} 429s reached the client, {hd.refused_after_move} conversations refused "
          f"after a move, {hd.ok} ok, upstream hits {json.dumps(hd.upstream_hits)}")
    assert rr.other == {} and hd.other == {}
    assert rr.client_429 > 0  # the run asks for more than the accounts can give
    # Failover moves a 429 to the other account inside the request, so a 429 reaches the client only once
    # both accounts of a vendor are spent: what decides is how much of the accounts' room gets used at all.
    # The morning accounts' room is lost at their reset unless it is spent before; headroom counts room that
    # comes back soon as nearly free (HeadroomBook.pressure) and spends it first, round-robin splits new
    # conversations evenly and lets part of it lapse, so more is left for after the reset under headroom.
    morning = ("claude morning", "codex morning")
    assert sum(hd.upstream_hits[k] for k in morning) > sum(rr.upstream_hits[k] for k in morning)
    assert hd.client_429 < rr.client_429
    assert hd.failed_at_the_limit < rr.failed_at_the_limit and hd.ok > rr.ok
