"""The operator's view through the real gateway: management API, logins, usage, /metrics, /ui, the log file.

Runs its own gateway (module-scoped) with a management secret, a client key and logging-to-file on.
The last test greps everything the gateway wrote for every secret the fakes handed out.
"""

from __future__ import annotations

import re
import time

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

MODEL = "claude-sonnet-4-5-20250929"
MSG = [{"role": "user", "content": "hello"}]
LOGIN_CODES: list[str] = []


def mgmt(managed, method: str, path: str, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {managed.key}", **kw.pop("headers", {})}
    return httpx.request(method, f"{managed.url}/v0/management/{path}", headers=headers, timeout=30, **kw)


def claude(managed) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=managed.url, api_key=managed.client_key, max_retries=0)


def oai(managed) -> openai.OpenAI:
    return openai.OpenAI(base_url=managed.url + "/v1", api_key=managed.client_key, max_retries=0)


def account(managed, email: str) -> dict:
    return next(a for a in mgmt(managed, "GET", "accounts").json()["accounts"] if a["email"] == email)


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_plaintext_secret_was_hashed_in_place(managed_gateway):
    before = managed_gateway.original_config.splitlines()
    after = managed_gateway.config.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1
    assert re.fullmatch(r'    secret-key: "\$2b\$12\$[./A-Za-z0-9]{53}"  # hashed on first start', changed[0][1])


def test_management_auth_through_the_real_server(managed_gateway):
    url = managed_gateway.url + "/v0/management/accounts"
    assert httpx.get(url).json() == {"error": "missing management key"}
    wrong = httpx.get(url, headers={"X-Management-Key": "nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid management key")
    ok = httpx.get(url, headers={"X-Management-Key": managed_gateway.key})
    assert ok.status_code == 200 and ok.headers["x-cpa-version"]
    # the management key is not a client key, and the operator routes skip the client-key check
    assert httpx.get(managed_gateway.url + "/v1/models").status_code == 401
    assert httpx.get(managed_gateway.url + "/metrics").status_code == 200


@pytest.mark.parametrize("provider", ["anthropic", "codex"])
def test_headless_login_through_the_management_api(managed_gateway, claude_stack, codex_stack, provider):
    start = mgmt(managed_gateway, "GET", f"{provider}-auth-url").json()
    assert start["status"] == "ok"
    # The operator opens the URL in a browser elsewhere; the fake approves and redirects to localhost.
    page = httpx.get(start["url"], follow_redirects=False)
    assert page.status_code == 302, page.text
    redirect = page.headers["location"]
    LOGIN_CODES.append(httpx.URL(redirect).params["code"])
    done = mgmt(managed_gateway, "POST", "oauth-callback", json={"provider": provider, "redirect_url": redirect})
    assert done.status_code == 200, done.text
    email = "alice@example.com" if provider == "anthropic" else "bob@example.com"
    assert done.json() == {"status": "ok", "provider": "claude" if provider == "anthropic" else "codex", "email": email}
    assert mgmt(managed_gateway, "GET", f"get-auth-status?state={start['state']}").json() == {"status": "ok"}
    again = mgmt(managed_gateway, "POST", "oauth-callback", json={"provider": provider, "redirect_url": redirect})
    assert again.status_code == 409
    acct = account(managed_gateway, email)
    assert acct["state"] == "ok" and acct["expires_at"]
    assert acct["plan"] == ("max" if provider == "anthropic" else "plus")  # right after login, not later
    time.sleep(0.4)
    if provider == "anthropic":
        assert claude(managed_gateway).messages.create(model=MODEL, max_tokens=32, messages=MSG).content
        assert claude_stack.api.hits(email) >= 1
    else:
        assert oai(managed_gateway).responses.create(model="gpt-5.1-codex", input="hi").output_text
    assert mgmt(managed_gateway, "DELETE", f"accounts/{acct['id']}").json() == {"status": "ok"}
    assert all(a["email"] != email for a in mgmt(managed_gateway, "GET", "accounts").json()["accounts"])


def test_usage_counts_match_what_the_upstreams_reported(managed_gateway, managed_accounts):
    c, x = managed_accounts.add("claude"), managed_accounts.add("codex")
    expected_claude = [0, 0]
    for stream in (False, True):
        if stream:
            with claude(managed_gateway).messages.stream(model=MODEL, max_tokens=64, messages=MSG) as s:
                usage = s.get_final_message().usage
        else:
            usage = claude(managed_gateway).messages.create(model=MODEL, max_tokens=64, messages=MSG).usage
        expected_claude[0] += usage.input_tokens
        expected_claude[1] += usage.output_tokens
    expected_codex = [0, 0, 0, 0]
    for kwargs in ({}, {"prompt_cache_key": "pck-usage"}):
        r = oai(managed_gateway).responses.create(model="gpt-5.1-codex", input="count me", **kwargs)
        expected_codex[0] += r.usage.input_tokens
        expected_codex[1] += r.usage.output_tokens
        expected_codex[2] += r.usage.input_tokens_details.cached_tokens
        expected_codex[3] += r.usage.output_tokens_details.reasoning_tokens
    for chunk in oai(managed_gateway).chat.completions.create(
            model="gpt-5.1", messages=MSG, stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            expected_codex[0] += chunk.usage.prompt_tokens
            expected_codex[1] += chunk.usage.completion_tokens
            expected_codex[2] += chunk.usage.prompt_tokens_details.cached_tokens or 0
            expected_codex[3] += chunk.usage.completion_tokens_details.reasoning_tokens or 0

    got_c = wait_for(lambda: (u := account(managed_gateway, c.email)["usage"])["requests"] == 2 and u)
    got_x = wait_for(lambda: (u := account(managed_gateway, x.email)["usage"])["requests"] == 3 and u)
    assert got_c and [got_c["input_tokens"], got_c["output_tokens"]] == expected_claude
    assert got_x and [got_x["input_tokens"], got_x["output_tokens"], got_x["cached_tokens"],
                      got_x["reasoning_tokens"]] == expected_codex
    assert expected_codex[2] > 0 and expected_codex[3] > 0
    usage = mgmt(managed_gateway, "GET", "usage").json()
    assert usage["models"]["gpt-5.1"]["requests"] >= 1 and usage["models"][MODEL]["requests"] >= 2


def test_quota_block_shows_in_accounts_metrics_and_status_data(managed_gateway, managed_accounts, claude_stack):
    a, b = managed_accounts.add("claude"), managed_accounts.add("claude")
    claude_stack.api.set_mode(a.email, {"status": 429, "reset_in": 3600})
    for _ in range(3):
        assert claude(managed_gateway).messages.create(model=MODEL, max_tokens=32, messages=MSG).content
    view = account(managed_gateway, a.email)
    assert view["state"] == "blocked" and 3500 <= view["resets_in_seconds"] <= 3600
    assert view["usage"]["errors"] == {"rate_limited": 1} and view["last_reset_seen"]
    assert account(managed_gateway, b.email)["state"] == "ok"

    families = {f.name: f for f in text_string_to_metric_families(httpx.get(managed_gateway.url + "/metrics").text)}
    blocked = {s.labels["account"]: s.value for s in families["subgate_account_blocked"].samples}
    assert blocked[a.email] == 1 and blocked[b.email] == 0
    limited = [s for s in families["subgate_requests"].samples
               if s.labels["account"] == a.email and s.labels["status"] == "rate_limited"]
    assert limited and limited[0].value == 1

    data = httpx.get(managed_gateway.url + "/ui/data.json").json()
    err = next(e for e in data["recent_errors"] if e["account"] == a.email)
    assert err["status"] == 429 and err["kind"] == "rate_limited" and err["model"] == MODEL
    assert sum(p["requests"] for p in data["series"]) >= 4
    assert a.email in httpx.get(managed_gateway.url + "/ui").text


def test_disabled_account_gets_no_traffic_until_enabled(managed_gateway, managed_accounts, claude_stack):
    a, b = managed_accounts.add("claude"), managed_accounts.add("claude")
    a_id = account(managed_gateway, a.email)["id"]
    assert mgmt(managed_gateway, "POST", f"accounts/{a_id}/disable").status_code == 200
    assert a.data()["disabled"] is True and account(managed_gateway, a.email)["state"] == "disabled"
    for _ in range(4):
        claude(managed_gateway).messages.create(model=MODEL, max_tokens=32, messages=MSG)
    assert claude_stack.api.hits(a.email) == 0 and claude_stack.api.hits(b.email) == 4
    assert mgmt(managed_gateway, "PATCH", f"accounts/{a_id}", json={"disabled": False}).status_code == 200
    for _ in range(4):
        claude(managed_gateway).messages.create(model=MODEL, max_tokens=32, messages=MSG)
    assert claude_stack.api.hits(a.email) > 0


def test_api_keys_change_applies_without_restart(managed_gateway, managed_accounts):
    managed_accounts.add("claude")
    new_key = "client-key-rotated-987654"
    assert mgmt(managed_gateway, "PUT", "api-keys", json=[managed_gateway.client_key, new_key]).status_code == 200
    rotated = anthropic.Anthropic(base_url=managed_gateway.url, api_key=new_key, max_retries=0)
    assert rotated.messages.create(model=MODEL, max_tokens=16, messages=MSG).content
    assert mgmt(managed_gateway, "DELETE", f"api-keys?value={new_key}").status_code == 200
    with pytest.raises(anthropic.AuthenticationError):
        rotated.messages.create(model=MODEL, max_tokens=16, messages=MSG)
    assert f'"{new_key}"' not in managed_gateway.config.read_text()


def test_request_log_lines_and_no_secret_anywhere_in_the_logs(managed_gateway, managed_accounts, claude_stack,
                                                              codex_stack):
    ok = managed_accounts.add("claude")
    dead = managed_accounts.add("codex", expired=True, wait=False)
    codex_stack.book.revoke_refresh(dead.grant.refresh_token)  # its refresh fails: needs-login
    time.sleep(0.4)
    claude_stack.api.set_mode(ok.email, {"status": 529})
    with pytest.raises(anthropic.APIStatusError):
        claude(managed_gateway).messages.create(model=MODEL, max_tokens=16, messages=MSG)
    claude_stack.api.clear_modes()
    with claude(managed_gateway).messages.stream(model=MODEL, max_tokens=16, messages=MSG) as s:
        s.get_final_message()
    with pytest.raises(openai.APIStatusError):
        oai(managed_gateway).responses.create(model="gpt-5.1-codex", input="hi")
    assert wait_for(lambda: account(managed_gateway, dead.email)["state"] == "needs-login")

    log = wait_for(lambda: (t := managed_gateway.log_file.read_text()).count("POST /v1/messages status=200") >= 1
                   and "tokens_in=" in t and t, timeout=15)
    assert log, managed_gateway.log_file.read_text()[-2000:]
    line = next(ln for ln in log.splitlines() if "subgate.access" in ln and f"account={ok.email}" in ln
                and "status=200" in ln and "tokens_in=" in ln)
    assert re.search(rf"\w{{4}}-\d{{6}} POST /v1/messages status=200 model={MODEL} account={re.escape(ok.email)} "
                     r"latency_ms=\d+ overhead_ms=\d+\.\d\d tokens_in=\d+ tokens_out=\d+", line)
    # LiteLLM reports Anthropic's 529 as a 500; the upstream's own body is what explains it
    assert re.search(rf"subgate\.upstream: upstream error: claude {re.escape(ok.email)} .*status=5\d\d body=.*overloaded_error", log)
    assert "/v0/management/accounts status=200" in log

    secrets = set(LOGIN_CODES) | {managed_gateway.key, managed_gateway.client_key, "client-key-rotated-987654"}
    for book in (claude_stack.book, codex_stack.book):
        secrets |= set(book._by_access) | set(book._live_refresh) | set(book._spent_refresh)
    assert len(secrets) > 10
    everything = log + managed_gateway.gw.log_text()
    leaked = [s[:12] + "..." for s in secrets if s in everything]
    assert not leaked, f"secrets in the logs: {leaked}"
    assert "hello" not in everything  # prompt text
