"""gateway.token_store: CLIProxyAPI-shaped account files, single-flight refresh, needs-login, crash safety.

Refresh tokens are single-use: every test that refreshes counts the refresher's calls, because one
extra spend of a rotated token is what kills a login in real life.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from custom_providers.credentials import rfc3339
from custom_providers.errors import RefreshFailed, RefreshTokenRejected
from gateway.errors import NeedsLogin
from gateway.atomic_file import write_json_atomic
from gateway.token_store import TokenStore, credential_filename
from tests.gateway.token_processes import run_token_race, run_write_crashes


def write_cred(auth_dir: Path, name: str, **fields: Any) -> Path:
    auth_dir.mkdir(parents=True, exist_ok=True)
    path = auth_dir / name
    path.write_text(json.dumps(fields))
    return path


def claude_cred(email: str = "alice@example.com", *, expires_in: float = -600, **extra: Any) -> dict[str, Any]:
    return {
        "type": "claude",
        "email": email,
        "access_token": "at-old",
        "refresh_token": "rt-old",
        "id_token": "",
        "expired": rfc3339(time.time() + expires_in),
        "last_refresh": rfc3339(time.time() - 3600),
        **extra,
    }


class Refresher:
    """Rotates refresh tokens like the real token endpoints; counts every spend."""

    def __init__(self, *, fail: Exception | None = None, rotate: bool = True, delay: float = 0.02) -> None:
        self.calls: list[str] = []
        self.fail = fail
        self.rotate = rotate
        self.delay = delay

    async def __call__(self, refresh_token: str) -> dict[str, Any]:
        self.calls.append(refresh_token)
        await asyncio.sleep(self.delay)  # let every other caller pile up behind this one
        if self.fail is not None:
            raise self.fail
        n = len(self.calls)
        fields: dict[str, Any] = {"access_token": f"at-{n}", "expired": rfc3339(time.time() + 3600)}
        if self.rotate:
            fields["refresh_token"] = f"rt-{n}"
        return fields


def store_for(auth_dir: Path, refresher: Refresher | None = None) -> TokenStore:
    refresher = refresher or Refresher()
    store = TokenStore(auth_dir=auth_dir, refreshers={"claude": refresher, "codex": refresher},
                       refresh_leads={"claude": 4 * 3600.0, "codex": 5 * 86400.0})
    store.scan()
    return store


def on_disk(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# ---- loading ---------------------------------------------------------------------------------------


def test_loads_reference_files_by_their_type(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    write_cred(tmp_path, "codex-bob@example.com.json", type="codex", email="bob@example.com",
               access_token="a", refresh_token="r", account_id="acc-1", expired=rfc3339(time.time() + 86400))
    write_cred(tmp_path, "codex-1a2b3c4d-carol@example.com-pro.json", type="codex", email="carol@example.com",
               access_token="a", refresh_token="r", account_id="acc-2", plan_type="pro",
               expired=rfc3339(time.time() + 86400))
    # The provider comes from "type", never from the file name.
    write_cred(tmp_path, "renamed.json", type="claude", email="dave@example.com", access_token="a",
               refresh_token="r")
    store = store_for(tmp_path)
    assert [(a.provider, a.email) for a in store.accounts("claude")] == [
        ("claude", "alice@example.com"), ("claude", "dave@example.com")]
    assert sorted(a.email for a in store.accounts("codex")) == ["bob@example.com", "carol@example.com"]
    carol = store.find("codex", "CAROL@example.com")
    assert carol is not None and carol.plan == "pro" and carol.account_id == "acc-2"


def test_garbage_files_are_skipped(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    (tmp_path / "half.json").write_text('{"type": "claude", "email": ')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    write_cred(tmp_path, "gemini-x.json", type="gemini", email="x@example.com")
    write_cred(tmp_path, "notype.json", email="y@example.com", access_token="a")
    (tmp_path / "notes.txt").write_text("not a credential")
    store = store_for(tmp_path)
    assert [a.email for a in store.accounts()] == ["alice@example.com"]


def test_scan_notices_new_and_removed_files(tmp_path: Path) -> None:
    store = store_for(tmp_path)
    assert store.accounts() == []
    path = write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    assert store.scan() is True and len(store.accounts()) == 1
    assert store.scan() is False
    path.unlink()
    assert store.scan() is True and store.accounts() == []


def test_account_ids_are_stable_and_hide_the_email(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    first = store_for(tmp_path).accounts()[0].id
    again = store_for(tmp_path).accounts()[0].id
    assert first == again
    assert "alice" not in first and "example" not in first


def test_credential_filename_is_the_reference_name() -> None:
    assert credential_filename({"type": "claude", "email": "a@b.c"}) == "claude-a@b.c.json"
    assert credential_filename({"type": "codex", "email": "a@b.c"}) == "codex-a@b.c.json"
    for bad in ({"type": "claude"}, {"email": "a@b.c"}, {"type": "claude", "email": "../x"}):
        with pytest.raises(ValueError):
            credential_filename(bad)


# ---- saving ----------------------------------------------------------------------------------------


def test_saved_files_are_private(tmp_path: Path) -> None:
    auth_dir = tmp_path / "auth"
    store = store_for(auth_dir)
    path = store.save_credential(claude_cred(expires_in=3600))
    assert path.name == "claude-alice@example.com.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(auth_dir.stat().st_mode) == 0o700
    assert store.find("claude", "alice@example.com") is not None


def test_a_too_open_auth_dir_is_tightened(tmp_path: Path) -> None:
    auth_dir = tmp_path / "auth"
    auth_dir.mkdir(mode=0o755)
    os.chmod(auth_dir, 0o755)
    store_for(auth_dir).save_credential(claude_cred())
    assert stat.S_IMODE(auth_dir.stat().st_mode) == 0o700


def test_relogin_keeps_unknown_keys(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred(), priority=5, note="mine")
    store = store_for(tmp_path)
    path = store.save_credential(claude_cred(access_token="at-new", refresh_token="rt-new", expires_in=3600))
    data = on_disk(path)
    assert data["note"] == "mine" and data["priority"] == 5 and data["refresh_token"] == "rt-new"


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "claude-a@b.c.json"
    for i in range(20):
        write_json_atomic(path, {"refresh_token": f"rt-{i}"})
    assert on_disk(path) == {"refresh_token": "rt-19"}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_write_never_leaves_a_half_file(tmp_path: Path) -> None:
    path = tmp_path / "claude-a@b.c.json"
    write_json_atomic(path, {"refresh_token": "rt-good"})
    with pytest.raises(TypeError):  # fails half way through serialising
        write_json_atomic(path, {"refresh_token": "rt-bad", "z": object()})
    assert on_disk(path) == {"refresh_token": "rt-good"}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# ---- refresh ---------------------------------------------------------------------------------------


async def test_a_fresh_token_is_served_without_refreshing(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred(expires_in=3600))
    refresher = Refresher()
    store = store_for(tmp_path, refresher)
    assert await store.token(store.accounts()[0]) == "at-old"
    assert refresher.calls == []


async def test_twenty_concurrent_callers_cause_one_refresh(tmp_path: Path) -> None:
    path = write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred(), org="keep-me")
    refresher = Refresher()
    store = store_for(tmp_path, refresher)
    acct = store.accounts()[0]
    tokens = await asyncio.gather(*(store.token(acct) for _ in range(20)))
    assert refresher.calls == ["rt-old"]
    assert set(tokens) == {"at-1"}
    data = on_disk(path)
    assert data["refresh_token"] == "rt-1"  # the rotated token is what the next refresh spends
    assert data["access_token"] == "at-1"
    assert data["org"] == "keep-me" and data["type"] == "claude" and data["email"] == "alice@example.com"
    assert data["last_refresh"] != claude_cred()["last_refresh"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [path.name]


async def test_a_reply_without_refresh_token_keeps_the_old_one(tmp_path: Path) -> None:
    path = write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    refresher = Refresher(rotate=False)
    store = store_for(tmp_path, refresher)
    assert await store.token(store.accounts()[0]) == "at-1"
    assert on_disk(path)["refresh_token"] == "rt-old"


async def test_a_401_on_an_old_token_spends_nothing(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred(expires_in=3600, access_token="at-now"))
    refresher = Refresher()
    store = store_for(tmp_path, refresher)
    acct = store.accounts()[0]
    assert await store.refresh(acct, failed_token="at-from-before") is False
    assert refresher.calls == []
    # The current token failing is different: that one is refreshed, once for many concurrent 401s.
    results = await asyncio.gather(*(store.refresh(acct, failed_token="at-now") for _ in range(10)))
    assert results.count(True) == 1 and refresher.calls == ["rt-old"]
    assert acct.access_token == "at-1"


async def test_a_rejected_refresh_token_means_needs_login_without_a_loop(tmp_path: Path) -> None:
    path = write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    refresher = Refresher(fail=RefreshTokenRejected("invalid_grant"))
    store = store_for(tmp_path, refresher)
    acct = store.accounts()[0]
    results = await asyncio.gather(*(store.token(acct) for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, NeedsLogin) for r in results)
    assert refresher.calls == ["rt-old"]
    assert acct.usable is False and acct.state == "needs-login"
    for _ in range(3):
        with pytest.raises(NeedsLogin):
            await store.token(acct)
        with pytest.raises(NeedsLogin):
            await store.refresh(acct, failed_token="at-old")
    assert store.due_for_refresh() == []
    assert refresher.calls == ["rt-old"]

    # Rewriting the same dead refresh token does not revive the account...
    data = on_disk(path)
    write_cred(tmp_path, path.name, **{**data, "note": "touched"})
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    store.scan()
    assert acct.state == "needs-login"
    # ...a new login (another refresh token) does.
    write_cred(tmp_path, path.name, **claude_cred(access_token="at-relogin", refresh_token="rt-relogin",
                                                  expires_in=3600))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 20_000_000))
    assert store.scan() is True
    assert acct.usable and acct.state == "ok"
    assert await store.token(acct) == "at-relogin"


async def test_needs_login_is_seen_by_other_processes_and_cleared_by_a_login(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    store = store_for(tmp_path, Refresher(fail=RefreshTokenRejected("invalid_grant")))
    with pytest.raises(NeedsLogin):
        await store.token(store.accounts()[0])
    other_refresher = Refresher()
    other = store_for(tmp_path, other_refresher)  # another worker, or `python -m gateway accounts`
    acct = other.accounts()[0]
    assert acct.state == "needs-login"
    with pytest.raises(NeedsLogin):
        await other.token(acct)
    assert other_refresher.calls == []
    other.save_credential(claude_cred(access_token="at-new", refresh_token="rt-new", expires_in=3600))
    assert acct.state == "ok"
    assert store_for(tmp_path).accounts()[0].state == "ok"


async def test_a_failed_refresh_is_shared_and_held_off(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    refresher = Refresher(fail=RefreshFailed("token endpoint 503"))
    store = store_for(tmp_path, refresher)
    acct = store.accounts()[0]
    results = await asyncio.gather(*(store.token(acct) for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, RefreshFailed) for r in results)
    assert refresher.calls == ["rt-old"]  # the waiters did not queue 19 more calls to a failing endpoint
    assert acct.usable and acct.state == "ok"  # a transient failure is not a dead login
    assert store.due_for_refresh() == []  # the background loop holds off


async def test_background_refresh_holds_off_after_a_failure(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred(expires_in=1800))
    refresher = Refresher(fail=RefreshFailed("network down"))
    store = store_for(tmp_path, refresher)
    acct = store.accounts()[0]
    assert store.due_for_refresh() == [acct]  # 30 min left, the Claude lead is 4 h
    with pytest.raises(RefreshFailed):
        await store.refresh(acct, lead=4 * 3600)
    assert await store.refresh(acct, lead=4 * 3600) is False
    assert refresher.calls == ["rt-old"] and store.due_for_refresh() == []
    assert await store.token(acct) == "at-old"  # still valid: requests keep working


async def test_due_for_refresh_follows_the_provider_lead(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-a@example.com.json", **claude_cred("a@example.com", expires_in=3 * 3600))
    write_cred(tmp_path, "claude-b@example.com.json", **claude_cred("b@example.com", expires_in=6 * 3600))
    write_cred(tmp_path, "codex-c@example.com.json", type="codex", email="c@example.com", access_token="a",
               refresh_token="r", expired=rfc3339(time.time() + 4 * 86400))
    write_cred(tmp_path, "claude-d@example.com.json", **claude_cred("d@example.com"), disabled=True)
    store = store_for(tmp_path)
    assert sorted(a.email for a in store.due_for_refresh()) == ["a@example.com", "c@example.com"]


# ---- several processes -----------------------------------------------------------------------------


def test_two_processes_spend_the_refresh_token_once(tmp_path: Path) -> None:
    result = run_token_race(tmp_path, processes=2, callers=25)
    assert result.refresh_calls == 1
    assert result.reuses == 0
    assert len(result.tokens) == 1  # all 50 callers got the same fresh token
    assert on_disk(result.path)["refresh_token"] == result.final_refresh_token


def test_killing_a_writer_never_corrupts_the_token_file(tmp_path: Path) -> None:
    path = tmp_path / "claude-alice@example.com.json"
    seen = run_write_crashes(path, kills=30)
    assert len(seen) == 30
    for data in seen:
        assert data["type"] == "claude" and data["refresh_token"].startswith("rt-")
    assert len({d["refresh_token"] for d in seen}) > 1  # the kills did land mid-loop
    store = store_for(tmp_path)  # leftover temp files are not taken for accounts
    assert [a.email for a in store.accounts()] == ["alice@example.com"]


def test_stale_temp_files_from_killed_writes_are_swept(tmp_path):
    import os

    store = TokenStore(auth_dir=tmp_path, refreshers={})
    old = tmp_path / ".claude-a@example.com.json.abc.tmp"
    fresh = tmp_path / ".claude-b@example.com.json.def.tmp"
    old.write_text("{")
    fresh.write_text("{")
    os.utime(old, (1, 1))
    assert store.sweep_temp_files() == 1
    assert not old.exists() and fresh.exists()  # a write in progress elsewhere is left alone


def test_broken_credential_files_are_reported_once_per_change(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred())
    broken = tmp_path / "codex-bob@example.com.json"
    broken.write_text('{"type": "codex", "email": ')
    empty = write_cred(tmp_path, "claude-carol@example.com.json")  # `{}`
    write_cred(tmp_path, "gemini-x.json", type="gemini", email="x@example.com")  # another tool's file: not ours
    caplog.set_level("WARNING", logger="subgate.accounts")
    store = store_for(tmp_path)
    assert store.problems == {
        "codex-bob@example.com.json": "is not valid JSON (Expecting value at line 1 column 28)",
        "claude-carol@example.com.json": 'has no "type" saying which provider it belongs to',
    }
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert any("codex-bob@example.com.json is not valid JSON" in w and "`python -m gateway login codex`" in w
               for w in warnings)
    for _ in range(3):  # other files change (a token refresh, the usage file): no new report
        write_cred(tmp_path, ".usage-stats.json", version=1)
        time.sleep(0.01)
        write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred(expires_in=3600 + _))
        store.scan()
    assert len(caplog.records) == 2
    empty.write_text("")  # the file changed (still broken): reported again, with what is wrong now
    os.utime(empty, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    store.scan()
    assert store.problems["claude-carol@example.com.json"] == "is empty" and len(caplog.records) == 3
    broken.unlink()
    write_cred(tmp_path, "claude-carol@example.com.json", **claude_cred("carol@example.com"))
    store.scan()
    assert store.problems == {}
    assert sorted(a.email for a in store.accounts()) == ["alice@example.com", "carol@example.com"]


def test_an_account_whose_file_breaks_keeps_serving_from_what_was_read(tmp_path: Path) -> None:
    path = write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred(expires_in=3600))
    store = store_for(tmp_path)
    path.write_text('{"type": "cla')
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    store.scan()
    assert [a.email for a in store.accounts()] == ["alice@example.com"]
    assert "is not valid JSON" in store.problems[path.name]


def test_an_imported_claude_login_shows_its_plan(tmp_path: Path) -> None:
    write_cred(tmp_path, "claude-alice@example.com.json", **claude_cred(subscription_type="max"))
    assert store_for(tmp_path).accounts()[0].plan == "max"
