"""A strict fake Codex backend on loopback, shared by the LiteLLM-level tests of the Codex adapter."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before anything imports litellm
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "true")

from typing import Iterator  # noqa: E402

import pytest  # noqa: E402

from tests.fakes.codex_backend import CodexBackendFake  # noqa: E402
from tests.fakes.tokens import Grant, TokenBook  # noqa: E402
from tests.servers import ServerThread  # noqa: E402


@pytest.fixture(scope="module")
def codex_book() -> TokenBook:
    return TokenBook(access_prefix="codex-at-", refresh_prefix="codex-rt-")


@pytest.fixture(scope="module")
def codex_backend(codex_book: TokenBook) -> CodexBackendFake:
    return CodexBackendFake(codex_book)


@pytest.fixture(scope="module")
def codex_server(codex_backend: CodexBackendFake) -> Iterator[ServerThread]:
    with ServerThread(codex_backend.app) as server:
        yield server


@pytest.fixture
def codex_base(codex_server: ServerThread) -> str:
    return codex_server.url + "/backend-api/codex"


@pytest.fixture(autouse=True)
def _fresh_backend(request: pytest.FixtureRequest) -> None:
    if "codex_backend" in request.fixturenames:
        backend = request.getfixturevalue("codex_backend")
        backend.recorder.clear()
        backend.clear_modes()


@pytest.fixture(scope="module")
def alice(codex_book: TokenBook) -> Grant:
    return codex_book.issue("alice@example.com", "acct-alice-1111")


@pytest.fixture(scope="module")
def bob(codex_book: TokenBook) -> Grant:
    return codex_book.issue("bob@example.com", "acct-bob-2222")
