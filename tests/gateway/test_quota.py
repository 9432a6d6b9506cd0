"""gateway.quota and gateway.quota_file: when an exhausted account may be used again, and who knows it."""

from __future__ import annotations

import json
import time
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway import quota
from custom_providers.rate_limits import reset_time
from gateway.quota import BACKOFF_CAP, QuotaBook
from gateway.quota_file import FILENAME, read_blocks
from gateway.store.files import FileStore

NOW = 1_750_000_000.0


# ---- reset_time: Codex bodies ----------------------------------------------------------------------


def test_codex_usage_limit_with_resets_in_seconds() -> None:
    body = {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                      "plan_type": "plus", "resets_in_seconds": 1234}}
    assert reset_time({}, body, NOW) == NOW + 1234


def test_codex_usage_limit_with_resets_at_wins() -> None:
    body = {"error": {"type": "usage_limit_reached", "resets_at": NOW + 999, "resets_in_seconds": 5}}
    assert reset_time({}, body, NOW) == NOW + 999


def test_reset_fields_at_the_top_level_and_in_raw_text() -> None:
    assert reset_time(None, {"resets_in_seconds": "60"}, NOW) == NOW + 60
    raw = b'litellm.RateLimitError: ChatgptException - {"error": {"type": "usage_limit_reached", "resets_in_seconds": 30}}'
    assert reset_time({}, raw, NOW) == NOW + 30
    assert reset_time({}, raw.decode(), NOW) == NOW + 30


def test_a_body_without_reset_falls_back_to_headers() -> None:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    assert reset_time({"retry-after": "12"}, body, NOW) == NOW + 12
    assert reset_time({}, "not json at all", NOW) is None
    assert reset_time({}, None, NOW) is None


# ---- reset_time: headers ---------------------------------------------------------------------------


def test_anthropic_unified_rejected_reset() -> None:
    headers = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": str(int(NOW + 3600)),
        "anthropic-ratelimit-unified-5h-status": "rejected",
        "anthropic-ratelimit-unified-5h-reset": str(int(NOW + 3600)),
        "anthropic-ratelimit-unified-7d-status": "allowed",
        "anthropic-ratelimit-unified-7d-reset": str(int(NOW + 5 * 86400)),
    }
    # The weekly window is still allowed: its (later) reset must not extend the block.
    assert reset_time(headers, None, NOW) == NOW + 3600


def test_anthropic_weekly_limit_rejected_blocks_until_the_later_reset() -> None:
    headers = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": str(int(NOW + 3600)),
        "anthropic-ratelimit-unified-7d-status": "rejected",
        "anthropic-ratelimit-unified-7d-reset": str(int(NOW + 2 * 86400)),
    }
    assert reset_time(headers, None, NOW) == NOW + 2 * 86400


def test_litellm_prefixed_and_mixed_case_headers() -> None:
    headers = {
        "llm_provider-anthropic-ratelimit-unified-status": "rejected",
        "LLM_PROVIDER-Anthropic-Ratelimit-Unified-Reset": str(int(NOW + 600)),
    }
    assert reset_time(headers, None, NOW) == NOW + 600
    assert reset_time({"llm_provider-retry-after": "7"}, None, NOW) == NOW + 7


def test_retry_after_http_date_and_ms() -> None:
    assert reset_time({"Retry-After": "30"}, None, NOW) == NOW + 30
    when = datetime.fromtimestamp(NOW + 120, tz=timezone.utc)
    assert reset_time({"retry-after": format_datetime(when, usegmt=True)}, None, NOW) == NOW + 120
    assert reset_time({"retry-after-ms": "1500", "retry-after": "99"}, None, NOW) == NOW + 1.5
    assert reset_time({"retry-after": "soon-ish"}, None, NOW) is None


def test_past_anthropic_resets_are_ignored() -> None:
    headers = {"anthropic-ratelimit-unified-status": "rejected",
               "anthropic-ratelimit-unified-reset": str(int(NOW - 10)), "retry-after": "5"}
    assert reset_time(headers, None, NOW) == NOW + 5


# ---- QuotaBook -------------------------------------------------------------------------------------


def test_block_until_the_reset_then_clear_on_success() -> None:
    book = QuotaBook()
    until = book.block("acct1", time.time() + 600)
    assert book.is_blocked("acct1") and not book.is_blocked("acct2")
    assert book.blocked_until("acct1") == pytest.approx(until)
    book.clear("acct1")
    assert not book.is_blocked("acct1") and not book.has_blocks()


def test_backoff_doubles_from_one_second_and_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [NOW]
    monkeypatch.setattr(quota.time, "time", lambda: clock[0])
    book = QuotaBook()
    waits = [book.block("acct", None) - NOW for _ in range(14)]
    assert waits[:5] == [1, 2, 4, 8, 16]
    assert max(waits) == BACKOFF_CAP == 30 * 60
    assert waits[-1] == BACKOFF_CAP
    # A success resets the level: the next unexplained 429 waits one second again.
    book.clear("acct")
    clock[0] = NOW + 10_000
    assert book.block("acct", None) == NOW + 10_000 + 1


def test_a_reset_in_the_past_uses_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quota.time, "time", lambda: NOW)
    assert QuotaBook().block("acct", NOW - 5) == NOW + 1


def test_a_shorter_later_block_does_not_shorten_a_known_reset() -> None:
    book = QuotaBook()
    far = time.time() + 3600
    book.block("acct", far)
    assert book.block("acct", time.time() + 10) == far


def test_blocks_expire_by_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    book = QuotaBook()
    book.block("acct", time.time() + 60)
    assert book.blocked_until("acct", now=time.time() + 61) is None


# ---- shared through auth-dir (the file store) -------------------------------------------------------


def _book(path: Path) -> QuotaBook:
    return QuotaBook(store=FileStore(path))


async def test_a_block_is_seen_by_another_worker(tmp_path: Path) -> None:
    one, two = _book(tmp_path), _book(tmp_path)
    until = one.block("acct", time.time() + 600)
    await one.sync()
    assert not two.is_blocked("acct")
    await two.sync()
    assert two.blocked_until("acct") == pytest.approx(until)
    # A success in the other worker lifts it for everyone.
    two.clear("acct")
    await two.sync()
    three = _book(tmp_path)
    await three.sync()
    assert not three.is_blocked("acct")


async def test_blocks_of_several_accounts_merge_in_the_file(tmp_path: Path) -> None:
    for name in ("a", "b"):
        book = _book(tmp_path)
        book.block(name, time.time() + 600)
        await book.sync()
    assert set(read_blocks(tmp_path)) == {"a", "b"}


async def test_expired_entries_are_dropped(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_text(json.dumps({"old": time.time() - 1, "live": time.time() + 600}))
    assert set(read_blocks(tmp_path)) == {"live"}
    book = _book(tmp_path)
    book.block("new", time.time() + 600)
    await book.sync()
    assert set(json.loads((tmp_path / FILENAME).read_text())) == {"live", "new"}


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '"text"', '{"a": "tomorrow"}'])
async def test_a_damaged_shared_file_is_ignored(tmp_path: Path, content: str) -> None:
    (tmp_path / FILENAME).write_text(content)
    assert read_blocks(tmp_path) == {}
    book = _book(tmp_path)
    await book.sync()
    book.block("acct", time.time() + 60)
    await book.sync()
    assert set(read_blocks(tmp_path)) == {"acct"}


async def test_shared_file_holds_no_emails(tmp_path: Path) -> None:
    book = _book(tmp_path)
    book.block("3f2a9c1b7d4e", time.time() + 60, label="alice@example.com")
    await book.sync()
    assert "alice" not in (tmp_path / FILENAME).read_text()
