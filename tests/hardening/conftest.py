"""The e2e fakes and gateway, reused for the hardening tests, plus accounts that come and go fast.

The fixtures are imported from tests/e2e/conftest.py unchanged (session-scoped fakes, one real gateway
process); in a whole-suite run this directory gets its own instances of them. `fresh_accounts` is the
e2e `accounts` fixture with shorter waits: the fault matrix adds one account per case, and the
gateway's request path rescans auth-dir every SCAN_INTERVAL, so one short pause after a write is
enough for both the removal of the previous case's account and the arrival of the new one.
"""

from __future__ import annotations

import time
from typing import Iterator

import httpx
import pytest

from tests.e2e.conftest import *  # noqa: F401,F403  (claude_stack, codex_stack, gateway, accounts, ...)
from tests.e2e.conftest import SCAN_INTERVAL, Accounts, ClaudeStack, CodexStack, TestAccount, accounts_in


PROVIDER_MODEL = {"claude": "claude-sonnet-4-5-20250929", "codex": "gpt-5.1"}


class FastAccounts(Accounts):
    """With `watch_url` (a gateway whose accounts this object alone adds), waits on the gateway's
    /v1/models instead of a fixed pause: a provider's models are listed exactly while one of its
    accounts is loaded, so the wait ends as soon as the gateway has seen the change."""

    def __init__(self, *args, watch_url: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.watch_url = watch_url

    def add(self, provider: str = "claude", **kwargs) -> TestAccount:  # type: ignore[override]
        kwargs.pop("wait", None)
        acct = super().add(provider, wait=False, **kwargs)
        if self.watch_url is None or not self._wait_listed(provider, True):
            time.sleep(SCAN_INTERVAL * 2.5)
        return acct

    def cleanup(self) -> None:
        for acct in self.added:
            acct.path.unlink(missing_ok=True)
            acct.path.with_name(acct.path.name + ".lock").unlink(missing_ok=True)
        if self.watch_url is not None:
            for provider in {a.provider for a in self.added}:
                self._wait_listed(provider, False)

    def _wait_listed(self, provider: str, listed: bool, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            models = httpx.get(self.watch_url + "/v1/models", timeout=5).json()["data"]
            if any(m["id"] == PROVIDER_MODEL[provider] for m in models) == listed:
                return True
            time.sleep(SCAN_INTERVAL / 5)
        return False


def fast_accounts_for(auth, claude_stack: ClaudeStack, codex_stack: CodexStack,
                      watch_url: str | None = None) -> Iterator[FastAccounts]:
    fast = FastAccounts(auth, claude_stack, codex_stack, watch_url=watch_url)
    yield from accounts_in(auth, claude_stack, codex_stack, accounts=fast, clear_recorders=True)  # type: ignore[misc]
