"""Fake OAuth servers on loopback, settings pointing at them, and a scripted "browser".

Each login test serves a fresh fake with ServerThread and gives the client a free callback port (set
through the settings, so no test needs 54545 or 1455). The `Browser` is what `open_browser` hands
the authorize URL to: it follows the fake's redirect to our callback server, like a logged-in user
clicking Authorize, or -- for the paste path -- stops at the redirect and "copies" it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Iterator

import httpx
import pytest

from custom_providers.claude.settings import ClaudeSettings, claude_settings
from custom_providers.codex.settings import CodexSettings, codex_settings
from tests.fakes.claude_oauth import ClaudeOAuthFake
from tests.fakes.openai_oauth import OpenAIOAuthFake
from tests.fakes.tokens import TokenBook
from tests.servers import ServerThread, free_port


class Browser:
    """Plays the user's browser for `open_browser`; remembers every page it ended on."""

    def __init__(self, *, follow: bool = True, paste_into: "PipeInput | None" = None,
                 paste_as: str = "url") -> None:
        self.follow = follow
        self.paste_into = paste_into
        self.paste_as = paste_as  # "url" (the whole redirect) or "code#state"
        self.opened: list[str] = []
        self.pages: list[httpx.Response] = []
        self.tasks: list[asyncio.Task[None]] = []

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        self.tasks.append(asyncio.get_running_loop().create_task(self._visit(url)))
        return True

    async def _visit(self, url: str) -> None:
        async with httpx.AsyncClient(trust_env=False, follow_redirects=self.follow, timeout=10) as client:
            response = await client.get(url)
            self.pages.append(response)
            if self.paste_into is not None:
                location = httpx.URL(response.headers["location"])
                if self.paste_as == "url":
                    text = str(location)
                else:
                    text = f"{location.params['code']}#{location.params['state']}"
                self.paste_into.write(text + "\n")

    async def settle(self) -> None:
        await asyncio.gather(*self.tasks)


class PipeInput:
    """A real blocking file (an os.pipe) standing in for stdin: readline blocks until a test writes."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.reader = os.fdopen(read_fd, "r")
        self._writer = os.fdopen(write_fd, "w")

    def write(self, text: str) -> None:
        self._writer.write(text)
        self._writer.flush()

    def close(self) -> None:
        for f in (self._writer, self.reader):
            try:
                f.close()
            except OSError:
                pass


class Output:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        self.lines.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def out() -> Output:
    return Output()


@pytest.fixture
def pipe_input() -> Iterator[PipeInput]:
    pipe = PipeInput()
    yield pipe
    pipe.close()


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def callback_port() -> int:
    return free_port()


@pytest.fixture
def claude_book() -> TokenBook:
    return TokenBook()


@pytest.fixture
def claude_fake(claude_book: TokenBook, callback_port: int) -> ClaudeOAuthFake:
    return ClaudeOAuthFake(claude_book, redirect_uri=f"http://localhost:{callback_port}/callback",
                           expires_in=7200)


@pytest.fixture
def claude_server(claude_fake: ClaudeOAuthFake) -> Iterator[ServerThread]:
    with ServerThread(claude_fake.app) as server:
        yield server


@pytest.fixture
def claude_cfg(claude_server: ServerThread, callback_port: int) -> ClaudeSettings:
    base = claude_server.url
    return claude_settings({
        "authorize_url": f"{base}/oauth/authorize",
        "token_url": f"{base}/v1/oauth/token",
        "profile_url": f"{base}/api/oauth/profile",
        "redirect_uri": f"http://localhost:{callback_port}/callback",
        "callback_port": callback_port,
    })


@pytest.fixture
def openai_book() -> TokenBook:
    return TokenBook(access_prefix="oai-at-", refresh_prefix="oai-rt-")


@pytest.fixture
def openai_fake(openai_book: TokenBook, callback_port: int) -> OpenAIOAuthFake:
    return OpenAIOAuthFake(openai_book, redirect_uri=f"http://localhost:{callback_port}/auth/callback",
                           plan_type="pro", expires_in=864000, device_interval="0.05")


@pytest.fixture
def openai_server(openai_fake: OpenAIOAuthFake) -> Iterator[ServerThread]:
    with ServerThread(openai_fake.app) as server:
        yield server


@pytest.fixture
def codex_cfg(openai_server: ServerThread, callback_port: int) -> CodexSettings:
    base = openai_server.url
    return codex_settings({
        "authorize_url": f"{base}/oauth/authorize",
        "token_url": f"{base}/oauth/token",
        "device_usercode_url": f"{base}/api/accounts/deviceauth/usercode",
        "device_token_url": f"{base}/api/accounts/deviceauth/token",
        "redirect_uri": f"http://localhost:{callback_port}/auth/callback",
        "callback_port": callback_port,
    })
