"""Usage statistics: what the upstream reported ends up per account and model, and survives a restart."""

from __future__ import annotations

import asyncio
import json

from gateway.store.files import FileStore
from gateway.usage import SERIES_HOURS, Tokens, UsageBook, error_kind, tokens_from


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_tokens_from_the_chat_shape_litellm_reports_for_every_route():
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 100},
             "completion_tokens_details": {"reasoning_tokens": 12}}
    assert tokens_from({"usage": usage}) == Tokens(120, 30, 100, 12)


def test_tokens_from_responses_and_anthropic_shapes():
    responses = {"usage": {"input_tokens": 18, "input_tokens_details": {"cached_tokens": 9}, "output_tokens": 70,
                           "output_tokens_details": {"reasoning_tokens": 16}}}
    assert tokens_from(responses) == Tokens(18, 70, 9, 16)
    completed_event = {"type": "response.completed", "response": responses}
    assert tokens_from(completed_event) == Tokens(18, 70, 9, 16)
    anthropic = {"usage": {"input_tokens": 5, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 10,
                           "output_tokens": 7}}
    assert tokens_from(anthropic) == Tokens(65, 7, 50, 0)
    assert tokens_from({"id": "x"}) is None


def test_counts_per_account_and_model_with_errors_by_kind():
    book = UsageBook(clock=Clock())
    book.record_success("a1", "alice@example.com", "claude", "claude-sonnet", Tokens(100, 20, 80, 0))
    book.record_success("a1", "alice@example.com", "claude", "claude-sonnet", Tokens(10, 2, 0, 0))
    book.record_success("a1", "alice@example.com", "claude", "claude-opus", None)
    book.record_failure("a1", "alice@example.com", "claude", "claude-opus", 429, "usage limit", reset_at=1_800_003_600)
    book.record_failure("b1", "bob@example.com", "codex", "gpt-5.1", 401, "expired")
    total = book.account_total("a1").as_dict()
    assert total == {"requests": 4, "input_tokens": 110, "output_tokens": 22, "cached_tokens": 80,
                     "reasoning_tokens": 0, "errors": {"rate_limited": 1}}
    assert book.by_model()["claude-sonnet"].requests == 2
    assert book.accounts["a1"].last_reset_seen == 1_800_003_600
    assert [e["kind"] for e in book.recent_errors] == ["rate_limited", "auth"]
    assert [error_kind(s) for s in (None, 400, 403, 429, 502)] == ["network", "client_error", "auth",
                                                                    "rate_limited", "server_error"]


def test_hourly_series_covers_the_last_day_and_forgets_older_hours():
    clock = Clock()
    book = UsageBook(clock=clock)
    book.record_success("a", "a@x", "claude", "m", Tokens(10, 5))
    clock.t += 3600
    book.record_success("a", "a@x", "claude", "m", Tokens(1, 1))
    book.record_failure("a", "a@x", "claude", "m", 500)
    series = book.series()
    assert len(series) == SERIES_HOURS
    assert series[-1] == {"hour": int(clock.t // 3600) * 3600, "requests": 2, "tokens": 2, "errors": 1}
    assert series[-2]["requests"] == 1 and series[-2]["tokens"] == 15
    clock.t += SERIES_HOURS * 3600
    book.record_success("a", "a@x", "claude", "m", None)
    assert sum(p["requests"] for p in book.series()) == 1
    assert len(book.hours) == 1


def test_only_the_last_50_errors_are_kept():
    book = UsageBook(clock=Clock())
    for i in range(60):
        book.record_failure("a", "a@x", "claude", "m", 500, f"boom {i}")
    assert len(book.recent_errors) == 50
    assert book.recent_errors[0]["message"] == "boom 10"


async def test_saved_statistics_load_after_a_restart(tmp_path):
    clock = Clock()
    path = tmp_path / ".usage-stats.json"
    book = UsageBook(FileStore(tmp_path), clock=clock)
    book.record_success("a1", "alice@example.com", "claude", "claude-sonnet", Tokens(100, 20, 80, 3))
    book.record_failure("a1", "alice@example.com", "claude", "claude-sonnet", 429, reset_at=1_800_007_200)
    assert await book.flush(force=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not await book.flush(force=True)  # nothing changed since

    again = UsageBook(FileStore(tmp_path), clock=clock)
    await again.start()
    assert again.account_total("a1").as_dict() == book.account_total("a1").as_dict()
    assert again.accounts["a1"].email == "alice@example.com"
    assert again.accounts["a1"].last_reset_seen == 1_800_007_200
    assert again.series()[-1]["requests"] == 2
    assert len(again.recent_errors) == 1


async def test_saving_is_throttled_and_skipped_when_nothing_changed(tmp_path):
    book = UsageBook(FileStore(tmp_path), clock=Clock())
    assert not await book.flush()
    book.record_success("a", "a@x", "claude", "m", None)
    assert await book.flush()
    book.record_success("a", "a@x", "claude", "m", None)
    assert not await book.flush()  # within SAVE_INTERVAL of the last one
    assert book.account_total("a").requests == 2  # still counted in the view
    assert await book.flush(force=True)
    assert json.loads((tmp_path / ".usage-stats.json").read_text())["accounts"]["a"]["models"]["m"]["requests"] == 2


async def test_two_workers_counts_add_up_in_one_file(tmp_path):
    """Each worker hands over its increments; the file holds the sum, not the last writer's totals."""
    one, two = UsageBook(FileStore(tmp_path)), UsageBook(FileStore(tmp_path))
    await one.start()
    await two.start()
    for _ in range(3):
        one.record_success("a", "a@x", "claude", "m", Tokens(10, 1))
    for _ in range(5):
        two.record_success("a", "a@x", "claude", "m", Tokens(1, 1))
    two.record_failure("a", "a@x", "claude", "m", 500, "boom")
    await one.flush(force=True)
    await two.flush(force=True)
    await one.flush(force=True)
    total = two.account_total("a")
    assert (total.requests, total.input, total.output, total.errors) == (9, 35, 8, {"server_error": 1})
    fresh = UsageBook(FileStore(tmp_path))
    await fresh.start()
    assert fresh.account_total("a").as_dict() == total.as_dict()
    assert sum(p["requests"] for p in fresh.series()) == 9


async def test_an_unreadable_file_starts_empty(tmp_path):
    path = tmp_path / ".usage-stats.json"
    path.write_text("{not json")
    book = UsageBook(FileStore(tmp_path))
    await book.start()
    assert book.tallies == {}
    path.write_text(json.dumps({"accounts": {"a": {"email": "a@x", "models": {"m": {"requests": 3}}}}}))
    book = UsageBook(FileStore(tmp_path))
    await book.start()
    assert book.account_total("a").requests == 3


class SlowStore(FileStore):
    """A file store whose hand-over takes a while, so shutdown can cancel the loop in the middle of it."""

    async def add_usage(self, delta):  # type: ignore[override]
        await asyncio.sleep(0.2)
        return await super().add_usage(delta)


async def test_a_hand_over_cancelled_by_shutdown_still_reaches_the_store(tmp_path):
    """Shutdown cancels the background loop; a request counted just before must not be lost with it."""
    book = UsageBook(SlowStore(tmp_path))
    book.record_failure("a", "a@x", "claude", "m", None, "The gateway is shutting down")
    loop_flush = asyncio.ensure_future(book.flush(force=True))
    await asyncio.sleep(0.05)  # the delta has left the pending book; the store has not taken it yet
    loop_flush.cancel()
    await asyncio.wait([loop_flush])
    await book.flush(force=True)  # the final flush at shutdown
    saved = json.loads((tmp_path / ".usage-stats.json").read_text())
    assert saved["accounts"]["a"]["models"]["m"]["requests"] == 1
