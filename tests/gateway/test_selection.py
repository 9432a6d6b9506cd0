"""The headroom strategy: most room first, the soft limit, and affinity until the hard limit."""

from __future__ import annotations

from gateway.selection import Candidate, Selector


def cands(*names: str) -> list[Candidate]:
    return [Candidate({"id": n}, n, n, 0) for n in names]


def pick(sel: Selector, names: tuple[str, ...] = ("a", "b", "c"), session: str | None = None) -> str:
    chosen = sel.choose("m", cands(*names), tried=set(), session=session, provider="claude")
    assert chosen is not None
    return chosen.account_id


def test_new_conversations_go_to_the_account_with_most_room() -> None:
    room = {"a": 5.0, "b": 60.0, "c": 30.0}
    sel = Selector(strategy="headroom", room=room.__getitem__)
    assert {pick(sel) for _ in range(5)} == {"b"}
    room["b"] = 10.0
    assert pick(sel) == "c"


def test_equal_room_takes_turns() -> None:
    sel = Selector(strategy="headroom", room=lambda _: 50.0)
    assert [pick(sel) for _ in range(3)] == ["a", "b", "c"]


def test_room_that_resets_soon_is_spent_first_but_not_past_the_soft_limit() -> None:
    room = {"a": 40.0, "b": 70.0}
    pressure = {"a": 6.0, "b": 30.0}  # "a" is fuller, but its window ends soon (HeadroomBook.pressure)
    sel = Selector(strategy="headroom", room=room.__getitem__, pressure=pressure.__getitem__, soft_limit=90.0)
    assert {pick(sel, ("a", "b")) for _ in range(3)} == {"a"}
    room["a"] = 9.0  # 91 % used: new conversations leave it although it is still the cheapest
    assert pick(sel, ("a", "b")) == "b"


def test_past_the_soft_limit_an_account_gets_no_new_conversations() -> None:
    room = {"a": 12.0, "b": 11.0}
    sel = Selector(strategy="headroom", room=room.__getitem__, soft_limit=90.0)
    assert {pick(sel, ("a", "b")) for _ in range(4)} == {"a", "b"}  # both under 90 % used: within a point
    room["a"] = 9.0  # 91 % used: past the soft limit
    assert {pick(sel, ("a", "b")) for _ in range(4)} == {"b"}


def test_when_every_account_is_past_the_soft_limit_the_one_with_most_room_serves() -> None:
    room = {"a": 2.0, "b": 7.0, "c": 4.0}
    sel = Selector(strategy="headroom", room=room.__getitem__)
    assert {pick(sel) for _ in range(3)} == {"b"}


def test_a_conversation_stays_past_the_soft_limit_until_its_account_is_left_out() -> None:
    room = {"a": 50.0, "b": 40.0}
    sel = Selector(strategy="headroom", room=room.__getitem__)
    assert pick(sel, ("a", "b"), session="s1") == "a"
    room["a"] = 1.0  # 99 % used, but not blocked: the conversation keeps its cache on "a"
    assert pick(sel, ("a", "b"), session="s1") == "a"
    assert pick(sel, ("a", "b"), session="s2") == "b"  # a new conversation does not go there
    # after a 429 the account is blocked and no longer a candidate: the conversation moves and stays moved
    assert pick(sel, ("b",), session="s1") == "b"
    room["a"] = 100.0
    assert pick(sel, ("a", "b"), session="s1") == "b"


def test_round_robin_ignores_room() -> None:
    sel = Selector(strategy="round-robin", room={"a": 1.0, "b": 99.0}.__getitem__)
    assert [pick(sel, ("a", "b")) for _ in range(4)] == ["a", "b", "a", "b"]


def test_the_account_a_conversation_lives_on() -> None:
    sel = Selector(strategy="headroom", room={"a": 10.0, "b": 80.0}.__getitem__)
    assert sel.bound_account("claude", "s1") is None
    assert pick(sel, ("a", "b"), session="s1") == "b"
    assert sel.bound_account("claude", "s1") == "b" and sel.bound_account("codex", "s1") is None
