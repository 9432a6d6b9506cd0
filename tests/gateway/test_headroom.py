"""The latest usage reading per account: what it says now, how it ages, how workers share it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from custom_providers.claude.usage_headers import parse_usage_headers
from custom_providers.usage_reading import UsageReading, Window
from gateway.headroom import FRESH_SECONDS, HeadroomBook
from gateway.headroom_file import FILENAME

NOW = 1_800_000_000.0
CLAUDE_HEAD = {
    "anthropic-ratelimit-unified-status": "allowed",
    "anthropic-ratelimit-unified-5h-utilization": "0.30",
    "anthropic-ratelimit-unified-5h-reset": str(int(NOW + 3600)),
    "anthropic-ratelimit-unified-7d-utilization": "0.80",
    "anthropic-ratelimit-unified-7d-reset": str(int(NOW + 3 * 86400)),
}


def reading(five: float, week: float, five_reset: float = NOW + 3600, week_reset: float = NOW + 86400) -> UsageReading:
    return UsageReading(five_hour=Window(five, five_reset, 300), weekly=Window(week, week_reset, 10080))


def claude_only(provider: str, headers):
    return parse_usage_headers(headers) if provider == "claude" else None


def test_an_answer_head_becomes_the_accounts_snapshot(tmp_path: Path) -> None:
    book = HeadroomBook(shared_dir=tmp_path, read=claude_only)
    assert book.observe("acct-a", "claude", CLAUDE_HEAD, now=NOW)
    view = book.view("acct-a", now=NOW + 5)
    assert view["five_hour"]["used_percent"] == 30.0 and view["weekly"]["used_percent"] == 80.0
    assert view["five_hour"]["resets_in_seconds"] == 3595 and view["source"] == "fresh"
    assert book.room("acct-a", now=NOW) == 20.0  # the tightest window decides
    assert not book.observe("acct-a", "claude", {"request-id": "x"}, now=NOW)  # no figures: kept as it was
    assert not book.observe("acct-a", "claude", {"anthropic-ratelimit-unified-5h-utilization": object()}, now=NOW)
    assert book.view("acct-a", now=NOW)["weekly"]["used_percent"] == 80.0
    assert not book.observe("acct-b", "third", CLAUDE_HEAD, now=NOW)  # a provider without usage headers


def test_an_unknown_account_has_full_room_and_no_view() -> None:
    book = HeadroomBook()
    assert book.room("never-seen") == 100.0 and book.view("never-seen") is None and book.tightest_used("x") is None


def test_a_window_past_its_reset_is_estimated_empty_with_the_next_reset() -> None:
    book = HeadroomBook()
    book.record("a", "codex", reading(95.0, 40.0, five_reset=NOW + 10), now=NOW)
    later = NOW + 20
    view = book.view("a", now=later)
    assert view["five_hour"]["used_percent"] == 0.0 and view["five_hour"]["estimated"] is True
    assert view["five_hour"]["resets_in_seconds"] == 300 * 60 - 10
    assert view["weekly"]["used_percent"] == 40.0 and view["source"] == "estimated"
    assert book.room("a", now=later) == 60.0


def test_room_that_comes_back_soon_is_cheap_to_spend() -> None:
    book = HeadroomBook()
    book.record("ending", "codex", reading(60.0, 20.0, five_reset=NOW + 1800), now=NOW)  # a tenth of 5 h left
    book.record("fresh", "codex", reading(30.0, 20.0, five_reset=NOW + 5 * 3600), now=NOW)
    book.record("week", "codex", reading(10.0, 95.0, week_reset=NOW + 6 * 86400), now=NOW)
    assert book.pressure("ending", now=NOW) == pytest.approx(6.0)  # 60 % used, but it resets soon
    assert book.pressure("fresh", now=NOW) == pytest.approx(30.0)
    assert book.pressure("week", now=NOW) == pytest.approx(95.0 * 6 / 7)  # the weekly window decides
    assert book.pressure("never-seen", now=NOW) == 0.0
    assert book.room("ending", now=NOW) == 40.0  # the soft limit still sees the real figure
    # after its reset the 5-hour window is empty: the weekly one (20 %, ends in a day) decides
    assert book.pressure("ending", now=NOW + 1801) == pytest.approx(20.0 * (86400 - 1801) / (7 * 86400))


def test_an_old_reading_is_estimated() -> None:
    book = HeadroomBook()
    book.record("a", "codex", reading(10.0, 10.0, NOW + 9 * 3600, NOW + 9 * 86400), now=NOW)
    assert book.view("a", now=NOW + FRESH_SECONDS - 1)["source"] == "fresh"
    assert book.view("a", now=NOW + FRESH_SECONDS + 1)["source"] == "estimated"


def test_an_older_reading_never_replaces_a_newer_one() -> None:
    book = HeadroomBook()
    book.record("a", "codex", reading(50.0, 10.0), now=NOW)
    book.record("a", "codex", reading(20.0, 10.0), now=NOW - 1)
    assert book.tightest_used("a", now=NOW) == 50.0


def test_workers_share_snapshots_through_auth_dir(tmp_path: Path) -> None:
    one, two = HeadroomBook(shared_dir=tmp_path), HeadroomBook(shared_dir=tmp_path)
    one.record("a", "claude", reading(30.0, 5.0), now=NOW)
    two.record("b", "codex", reading(60.0, 5.0), now=NOW + 1)
    one.save_if_dirty()
    two.save_if_dirty()  # merges with what `one` wrote instead of replacing it
    three = HeadroomBook(shared_dir=tmp_path)
    three.load_shared()
    assert three.tightest_used("a", now=NOW) == 30.0 and three.tightest_used("b", now=NOW) == 60.0
    assert os.stat(tmp_path / FILENAME).st_mode & 0o777 == 0o600
    one.record("b", "codex", reading(70.0, 5.0), now=NOW + 2)  # newer than two's reading of b
    one.save_if_dirty()
    two.load_shared()
    assert two.tightest_used("b", now=NOW + 2) == 70.0


def test_a_damaged_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_text("{not json")
    book = HeadroomBook(shared_dir=tmp_path)
    book.load_shared()
    assert book.snapshots == {}
    (tmp_path / FILENAME).write_text(json.dumps({"a": {"taken_at": "yesterday"}, "b": [1, 2]}))
    book.load_shared()
    assert book.snapshots == {}
    book.record("c", "codex", reading(1.0, 1.0), now=NOW)
    book.save_if_dirty()
    assert set(json.loads((tmp_path / FILENAME).read_text())) >= {"c"}


@pytest.mark.parametrize("backing", ["files", "redis"])
async def test_hosts_share_snapshots_through_the_store(backing: str, tmp_path: Path, request) -> None:
    from gateway.store import open_store

    url = request.getfixturevalue("redis_server").url if backing == "redis" else ""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    root = {"files": (tmp_path / "a", tmp_path / "a"), "redis": (tmp_path / "a", tmp_path / "b")}[backing]
    stores = [open_store(url, root[0]), open_store(url, root[1])]
    one, two = HeadroomBook(), HeadroomBook()
    one.record("a", "claude", reading(30.0, 5.0), now=NOW)
    two.record("a", "claude", reading(10.0, 5.0), now=NOW - 5)  # older: loses
    await one.sync(stores[0])
    await two.sync(stores[1])
    assert two.tightest_used("a", now=NOW) == 30.0
    two.record("b", "codex", reading(60.0, 5.0), now=NOW + 1)
    await two.sync(stores[1])
    await one.sync(stores[0])
    assert one.tightest_used("b", now=NOW + 1) == 60.0
    for store in stores:
        await store.aclose()
