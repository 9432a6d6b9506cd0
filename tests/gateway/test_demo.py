"""`python -m gateway.amp --demo`: a newcomer's first run, driven with the official SDKs.

One demo process serves the module; its last test stops it and checks the temporary auth-dir is gone.
The import-boundary tests keep the shipped fakes independent of the gateway they stand in front of.
"""

from __future__ import annotations

import ast
import importlib
import re
import time
from pathlib import Path
from typing import Iterator

import anthropic
import httpx
import openai
import pytest

from gateway.demo.fakes.codex_backend import DEFAULT_TEXT
from tests.gateway_process import ROOT, GatewayProcess
from tests.servers import free_port

CLAUDE = "claude-sonnet-4-5-20250929"
DEMO_CLAUDE = {"claude-demo1@example.com", "claude-demo2@example.com"}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
_ACCESS = re.compile(r"subgate\.access: (\S+) POST /v1/messages status=200 \S+ account=(\S+)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    port = free_port()
    log = tmp_path_factory.mktemp("demo") / "gateway.log"
    with GatewayProcess({}, log_path=log, port=port, args=["--demo", "--port", str(port)]) as gw:
        yield gw


def _claude_lines(gw: GatewayProcess) -> list[tuple[str, str]]:
    return _ACCESS.findall(gw.log_text())


def _wait_for_lines(gw: GatewayProcess, count: int, timeout: float = 10) -> list[tuple[str, str]]:
    """Access lines are written once a response's usage has arrived, a moment after its last byte."""
    deadline = time.monotonic() + timeout
    while len(lines := _claude_lines(gw)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return lines


def test_banner_says_where_everything_is(demo: GatewayProcess) -> None:
    deadline = time.monotonic() + 10  # printed once the port answers, a moment after /health first does
    while "DEMO MODE" not in (text := demo.log_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text.index("subgate listening on") < text.index("DEMO MODE")
    assert "DEMO MODE" in text and f"{demo.url}/ui" in text
    assert f"ANTHROPIC_BASE_URL={demo.url} ANTHROPIC_API_KEY=dummy-not-used claude" in text
    assert f'base_url = "{demo.url}/v1"' in text and "factory-config --port" in text
    assert re.search(r"temporary auth-dir \S*subgate-demo-\S+ \(removed when the gateway stops\)", text)


def test_claude_stream_calls_the_tool_and_reads_its_result(demo: GatewayProcess) -> None:
    client = anthropic.Anthropic(base_url=demo.url, api_key="dummy-not-used")
    question = {"role": "user", "content": "What is the weather in Paris?"}
    with client.messages.stream(model=CLAUDE, max_tokens=256, tools=[WEATHER_TOOL], messages=[question]) as stream:
        events = [event.type for event in stream]
        first = stream.get_final_message()

    assert "content_block_delta" in events and first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "fake"}

    second = client.messages.create(model=CLAUDE, max_tokens=256, tools=[WEATHER_TOOL], messages=[
        question,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}]},
    ])
    assert second.stop_reason == "end_turn" and "sunny, 21 C" in second.content[0].text


def test_codex_responses_on_gpt_5_1_codex(demo: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=demo.url + "/v1", api_key="dummy-not-used")
    reply = client.responses.create(model="gpt-5.1-codex", input="hello")
    assert reply.output_text == DEFAULT_TEXT and reply.model == "gpt-5.1-codex"


def test_requests_alternate_between_the_two_demo_claude_accounts(demo: GatewayProcess) -> None:
    before = len(_claude_lines(demo))
    client = anthropic.Anthropic(base_url=demo.url, api_key="dummy-not-used")
    for n in range(4):
        client.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": f"hi {n}"}])

    lines = _wait_for_lines(demo, before + 4)[before:]
    accounts = [account for _, account in sorted(lines)]  # request ids count up
    assert len(accounts) == 4 and set(accounts) == DEMO_CLAUDE
    assert all(a != b for a, b in zip(accounts, accounts[1:]))

    shown = httpx.get(demo.url + "/ui/data.json").json()["accounts"]
    requests = {a["email"]: a["usage"]["requests"] for a in shown if a["provider"] == "claude"}
    assert set(requests) == DEMO_CLAUDE and min(requests.values()) >= 2


def test_amp_management_routes_do_not_reach_ampcode(demo: GatewayProcess) -> None:
    assert httpx.get(demo.url + "/api/user").status_code == 503


def test_stopping_removes_the_temporary_auth_dir(demo: GatewayProcess) -> None:
    """Last in the module: it stops the shared demo process."""
    auth_dir = Path(re.search(r"temporary auth-dir (\S+) ", demo.log_text()).group(1))
    assert sorted(p.name for p in auth_dir.glob("*.json") if not p.name.startswith(".")) == [  # state files are dotfiles
        "claude-claude-demo1@example.com.json", "claude-claude-demo2@example.com.json",
        "codex-codex-demo1@example.com.json", "codex-codex-demo2@example.com.json",
    ]
    demo.stop()  # SIGTERM, as a service manager would send
    assert not auth_dir.exists()
    assert f"removed {auth_dir}" in demo.log_text()


def test_demo_refuses_a_config_or_auth_dir_of_its_own(tmp_path: Path) -> None:
    from gateway.amp import main

    assert main(["--demo", "--auth-dir", str(tmp_path)]) == 2
    assert not any(tmp_path.iterdir())


# ---- import boundaries --------------------------------------------------------------------------------------

def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_shipped_fakes_import_nothing_from_the_gateway() -> None:
    for path in (ROOT / "gateway" / "demo" / "fakes").glob("*.py"):
        for module in _imports(path):
            top = module.split(".")[0]
            assert top not in ("custom_providers", "amp", "tests"), f"{path.name} imports {module}"
            assert top != "gateway" or module.startswith("gateway.demo.fakes"), f"{path.name} imports {module}"


def test_only_the_demo_switch_of_gateway_amp_imports_the_demo_package() -> None:
    for package in ("gateway", "custom_providers", "amp"):
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("gateway/demo/") or rel == "gateway/amp.py":
                continue
            assert not any(m.startswith("gateway.demo") for m in _imports(path)), f"{rel} imports gateway.demo"


def test_tests_fakes_shims_still_export_every_name_tests_import() -> None:
    pattern = re.compile(r"from tests\.fakes\.(\w+) import ([\w, ]+)")
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]:
        for name, names in pattern.findall(path.read_text()):
            shim = importlib.import_module(f"tests.fakes.{name}")
            for attr in filter(None, (n.strip() for n in names.split(","))):
                assert hasattr(shim, attr), f"{path.relative_to(ROOT)}: tests.fakes.{name}.{attr} is gone"
