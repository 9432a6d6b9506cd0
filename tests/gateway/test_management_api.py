"""The management API as an operator uses it: auth table, accounts, settings writes, login sessions."""

from __future__ import annotations

import json
import re
import time

import bcrypt
import httpx
import pytest
import yaml

from gateway.management_api import OperatorRoutes
from tests.gateway.operator_runtime import make_runtime, write_account, write_config

KEY = "s3cret-admin"
FAST_HASH = bcrypt.hashpw(KEY.encode(), bcrypt.gensalt(rounds=4)).decode()
LOCAL = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.9", 50000)


async def inner_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"inner"})


def client(app, peer=LOCAL, key: str | None = KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=peer), base_url="http://gw",
                             headers=headers)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    config = write_config(tmp_path, secret=f'"{FAST_HASH}"')
    rt = make_runtime(config, monkeypatch)
    return rt, OperatorRoutes(inner_app, rt), config


async def test_without_a_secret_every_management_path_is_404(tmp_path, monkeypatch):
    rt = make_runtime(write_config(tmp_path, secret='""'), monkeypatch)
    app = OperatorRoutes(inner_app, rt)
    async with client(app) as c:
        for path in ("/v0/management/accounts", "/v0/management/usage", "/v0/management/nope"):
            r = await c.get(path)
            assert r.status_code == 404
        assert (await c.get("/v1/models")).status_code == 299  # everything else passes through


async def test_management_password_env_enables_it_without_a_secret_key(tmp_path, monkeypatch):
    rt = make_runtime(write_config(tmp_path, secret='""'), monkeypatch)
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "env-pass")
    app = OperatorRoutes(inner_app, rt)
    async with client(app, key="env-pass") as c:
        assert (await c.get("/v0/management/accounts")).status_code == 200
    async with client(app, key="env-pasS") as c:
        assert (await c.get("/v0/management/accounts")).status_code == 401


async def test_auth_table_remote_missing_wrong_ban_right(setup):
    rt, app, _ = setup
    async with client(app, peer=REMOTE) as c:
        r = await c.get("/v0/management/accounts")
        assert (r.status_code, r.json()) == (403, {"error": "remote management disabled"})
        # a forwarded header proves nothing
        r = await c.get("/v0/management/accounts", headers={"X-Forwarded-For": "127.0.0.1"})
        assert r.status_code == 403
    async with client(app, key=None) as c:
        r = await c.get("/v0/management/accounts")
        assert (r.status_code, r.json()["error"]) == (401, "missing management key")
        r = await c.get("/v0/management/accounts", headers={"X-Management-Key": KEY})
        assert r.status_code == 200
        assert r.headers["X-CPA-VERSION"]
        for _ in range(5):
            r = await c.get("/v0/management/accounts", headers={"X-Management-Key": "wrong"})
            assert (r.status_code, r.json()["error"]) == (401, "invalid management key")
        r = await c.get("/v0/management/accounts", headers={"X-Management-Key": KEY})
        assert r.status_code == 403
        assert re.fullmatch(r"IP banned due to too many failed attempts\. Try again in (30m0s|29m5\ds)", r.json()["error"])


async def test_remote_with_allow_remote_needs_the_key(tmp_path, monkeypatch):
    config = write_config(tmp_path, secret=f'"{FAST_HASH}"')
    config.write_text(config.read_text().replace("allow-remote: false", "allow-remote: true"))
    app = OperatorRoutes(inner_app, make_runtime(config, monkeypatch))
    async with client(app, peer=REMOTE) as c:
        assert (await c.get("/v0/management/accounts")).status_code == 200
        assert (await c.get("/ui/data.json")).status_code == 200
    async with client(app, peer=REMOTE, key="nope") as c:
        assert (await c.get("/metrics")).status_code == 401


async def test_plaintext_secret_is_hashed_into_the_yaml_line_only(tmp_path, monkeypatch):
    config = write_config(tmp_path, secret='"plain-secret-1"')
    before = config.read_text()
    rt = make_runtime(config, monkeypatch)
    app = OperatorRoutes(inner_app, rt)
    after = config.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines()) and len(changed) == 1
    old, new = changed[0]
    assert "plain-secret-1" in old and "plain-secret-1" not in after
    assert new.endswith("# set by the operator") and '"$2b$' in new
    stored = yaml.safe_load(after)["gateway"]["remote-management"]["secret-key"]
    assert bcrypt.checkpw(b"plain-secret-1", stored.encode())
    async with client(app, key="plain-secret-1") as c:
        assert (await c.get("/v0/management/accounts")).status_code == 200


async def test_accounts_show_state_reset_and_usage(setup):
    rt, app, _ = setup
    write_account(rt, "claude", "alice@example.com", subscriptionType="max")
    bob = write_account(rt, "codex", "bob@example.com", plan_type="plus")
    bob_id = rt.store.find("codex", "bob@example.com").id
    until = rt.quota.block(bob_id, time.time() + 600, label="bob", reason="429 from upstream")
    rt.usage.record_failure(bob_id, "bob@example.com", "codex", "gpt-5.1", 429, "limit", reset_at=until)
    async with client(app) as c:
        accounts = {a["email"]: a for a in (await c.get("/v0/management/accounts")).json()["accounts"]}
    assert accounts["alice@example.com"]["state"] == "ok" and accounts["alice@example.com"]["plan"] == "max"
    b = accounts["bob@example.com"]
    assert b["state"] == "blocked" and b["plan"] == "plus" and 590 <= b["resets_in_seconds"] <= 600
    assert b["blocked_until"] and b["last_reset_seen"] == b["blocked_until"]
    assert b["usage"]["errors"] == {"rate_limited": 1} and b["file"] == bob.name
    assert "access_token" not in json.dumps(accounts) and "at-bob" not in json.dumps(accounts)


async def test_disable_enable_and_delete_an_account(setup):
    rt, app, _ = setup
    path = write_account(rt, "claude", "alice@example.com")
    acct_id = rt.store.find("claude", "alice@example.com").id
    async with client(app) as c:
        assert (await c.post(f"/v0/management/accounts/{acct_id}/disable")).json() == {"status": "ok"}
        assert json.loads(path.read_text())["disabled"] is True
        assert not rt.store.get(acct_id).usable
        r = await c.patch("/v0/management/accounts/alice@example.com", json={"disabled": False})
        assert r.status_code == 200 and json.loads(path.read_text())["disabled"] is False
        assert (await c.patch(f"/v0/management/accounts/{acct_id}", json={"disabled": "no"})).status_code == 400
        assert (await c.request("DELETE", f"/v0/management/accounts/{path.name}")).status_code == 200
        assert not path.exists() and rt.store.get(acct_id) is None
        assert (await c.request("DELETE", f"/v0/management/accounts/{acct_id}")).status_code == 404


async def test_api_keys_list_semantics_persist_and_apply_live(setup):
    rt, app, config = setup
    async with client(app) as c:
        assert (await c.put("/v0/management/api-keys", json=["k1", " k2 "])).json() == {"status": "ok"}
        assert rt.settings.api_keys == ("k1", "k2")
        await c.patch("/v0/management/api-keys", json={"index": 0, "value": "k0"})
        await c.patch("/v0/management/api-keys", json={"old": "missing", "new": "k3"})
        await c.request("DELETE", "/v0/management/api-keys?value=k2")
        assert (await c.get("/v0/management/api-keys")).json() == {"api-keys": ["k0", "k3"]}
        await c.put("/v0/management/api-keys", json={"items": ["a", "b", "c"]})
        await c.request("DELETE", "/v0/management/api-keys?index=1")
    assert rt.settings.api_keys == ("a", "c")
    text = config.read_text()
    assert yaml.safe_load(text)["gateway"]["api-keys"] == ["a", "c"]
    assert "# my gateway config; this comment must survive" in text
    assert "# trailing comment about router settings" in text and "# Claude accounts" in text
    assert yaml.safe_load(text)["router_settings"] == {"routing_strategy": "simple-shuffle"}


async def test_emptying_api_keys_on_a_network_bind_is_refused(setup):
    rt, app, config = setup
    from dataclasses import replace

    rt.settings = replace(rt.settings, host="0.0.0.0", api_keys=("k",))
    before = config.read_text()
    async with client(app) as c:
        r = await c.put("/v0/management/api-keys", json=[])
    assert r.status_code == 400 and rt.settings.api_keys == ("k",) and config.read_text() == before


async def test_amp_settings_read_masked_and_write_through(setup):
    rt, app, config = setup
    async with client(app) as c:
        amp = (await c.get("/v0/management/ampcode")).json()["ampcode"]
        assert amp["upstream-api-key"] == "amp-...6789" and amp["restrict-management-to-localhost"] is True
        assert (await c.put("/v0/management/ampcode/upstream-url", json={"value": " http://127.0.0.1:9/x "})).status_code == 200
        assert (await c.put("/v0/management/ampcode/fallback-to-upstream", json={"value": False})).status_code == 200
        assert (await c.put("/v0/management/ampcode/fallback-to-upstream", json={})).status_code == 400
        r = await c.put("/v0/management/ampcode/model-mappings", json={"value": [{"from": "a", "to": "b"}, {"from": "c", "to": "d"}]})
        assert r.status_code == 200
        await c.patch("/v0/management/ampcode/model-mappings", json={"value": [{"from": "a", "to": "z"}]})
        await c.request("DELETE", "/v0/management/ampcode/model-mappings", json={"value": ["c"]})
        assert (await c.get("/v0/management/ampcode/model-mappings")).json() == {"model-mappings": [{"from": "a", "to": "z"}]}
        await c.request("DELETE", "/v0/management/ampcode/upstream-api-key")
    assert rt.settings.amp.upstream_url == "http://127.0.0.1:9/x" and rt.settings.amp.fallback_to_upstream is False
    assert rt.settings.amp.upstream_api_key == "" and [m.target for m in rt.settings.amp.model_mappings] == ["z"]
    saved = yaml.safe_load(config.read_text())["gateway"]["amp"]
    assert saved["upstream-url"] == "http://127.0.0.1:9/x" and saved["fallback-to-upstream"] is False
    assert saved["model-mappings"] == [{"from": "a", "to": "z"}]


async def test_oauth_start_and_callback_errors(setup):
    rt, app, _ = setup
    async with client(app) as c:
        start = (await c.get("/v0/management/anthropic-auth-url")).json()
        assert start["status"] == "ok" and f"state={start['state']}" in start["url"] and "code_challenge=" in start["url"]
        codex = (await c.get("/v0/management/codex-auth-url")).json()
        assert (await c.get(f"/v0/management/get-auth-status?state={start['state']}")).json() == {"status": "wait"}
        r = await c.post("/v0/management/oauth-callback", json={"provider": "anthropic", "code": "x", "state": "nope"})
        assert r.status_code == 404
        r = await c.post("/v0/management/oauth-callback", json={"provider": "codex", "code": "x", "state": start["state"]})
        assert r.status_code == 400
        r = await c.post("/v0/management/oauth-callback", json={
            "provider": "codex", "redirect_url": f"http://localhost:1455/auth/callback?error=access_denied&state={codex['state']}",
            "state": codex["state"]})
        assert r.status_code == 400
        assert (await c.get(f"/v0/management/get-auth-status?state={codex['state']}")).json()["status"] == "error"
        r = await c.post("/v0/management/oauth-callback", json={"provider": "codex", "code": "x", "state": codex["state"]})
        assert r.status_code == 409
        assert (await c.request("DELETE", f"/v0/management/oauth-session?state={start['state']}")).status_code == 200


async def test_status_page_and_metrics_are_local_only_and_the_panel_can_be_off(tmp_path, monkeypatch, setup):
    rt, app, _ = setup
    write_account(rt, "claude", "alice@example.com")
    async with client(app, key=None) as c:
        page = await c.get("/ui")
        assert page.status_code == 200 and "alice@example.com" in page.text and "<svg" in page.text
        assert (await c.get("/ui/data.json")).json()["accounts"][0]["email"] == "alice@example.com"
        assert (await c.get("/metrics")).status_code == 200
    async with client(app, peer=REMOTE, key=None) as c:
        assert (await c.get("/ui")).status_code == 403
        assert (await c.get("/metrics")).status_code == 403
    config = write_config(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path,
                          extra_rm="    disable-control-panel: true\n")
    off = OperatorRoutes(inner_app, make_runtime(config, monkeypatch))
    async with client(off, key=None) as c:
        assert (await c.get("/ui")).status_code == 404
        assert (await c.get("/ui/data.json")).status_code == 404
        assert (await c.get("/metrics")).status_code == 200


async def test_an_email_cannot_break_out_of_the_page_script(setup):
    rt, app, _ = setup
    write_account(rt, "claude", "</script><img src=x onerror=alert(1)>@example.com", filename="claude-x.json")
    async with client(app, key=None) as c:
        page = (await c.get("/ui")).text
    assert "</script><img" not in page
