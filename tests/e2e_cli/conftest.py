"""The e2e fixtures (fakes + one gateway process, `accounts`) plus what the real CLIs need on top.

Each test gets a private HOME and working directory for the CLI, and a recording tap between the CLI
and the gateway, so it can compare what the client sent with what reached the (fake) vendor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.conftest import *  # noqa: F401,F403  (session fakes, gateway, accounts, failure log hook)
from tests.e2e_cli.tap import Tap
from tests.gateway_process import GatewayProcess
from tests.servers import ServerThread


@dataclass
class TapServer:
    tap: Tap
    url: str


@pytest.fixture(scope="session")
def tap_server(gateway: GatewayProcess) -> Iterator[TapServer]:
    tap = Tap(gateway.url)
    with ServerThread(tap) as srv:
        yield TapServer(tap, srv.url)


@pytest.fixture
def tap(tap_server: TapServer) -> TapServer:
    tap_server.tap.recorder.clear()
    return tap_server


@dataclass
class Sandbox:
    home: Path
    work: Path


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    return Sandbox(home, work)
