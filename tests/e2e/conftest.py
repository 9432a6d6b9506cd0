"""Fakes of every upstream plus one real gateway process, shared by the end-to-end tests.

Each test adds the accounts it needs (fresh emails, fresh tokens from the fakes' token books) and
they are removed afterwards, so tests never see each other's accounts, blocks or sessions.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.claude_oauth import ClaudeOAuthFake
from tests.fakes.tokens import Grant, TokenBook
from tests.gateway_process import ROOT, GatewayProcess
from tests.servers import ServerThread, free_port

SCAN_INTERVAL = 0.1
_counter = itertools.count(1)


@dataclass
class ClaudeStack:
    book: TokenBook
    oauth: ClaudeOAuthFake
    api: AnthropicFake
    oauth_url: str
    api_url: str


@pytest.fixture(scope="session")
def claude_stack() -> Iterator[ClaudeStack]:
    book = TokenBook(access_ttl=8 * 3600)  # beyond the 4 h proactive-refresh lead
    oauth = ClaudeOAuthFake(book)
    api = AnthropicFake(book)
    with ServerThread(oauth.app) as o, ServerThread(api.app) as a:
        yield ClaudeStack(book, oauth, api, o.url, a.url)


def _codex_stack():
    from tests.fakes.codex_backend import CodexBackendFake
    from tests.fakes.openai_oauth import OpenAIOAuthFake

    book = TokenBook(access_prefix="codex-at-", refresh_prefix="codex-rt-", access_ttl=10 * 86400)
    return book, OpenAIOAuthFake(book), CodexBackendFake(book)


@dataclass
class CodexStack:
    book: TokenBook
    oauth: Any
    api: Any
    oauth_url: str
    api_url: str


@pytest.fixture(scope="session")
def codex_stack() -> Iterator[CodexStack]:
    book, oauth, api = _codex_stack()
    with ServerThread(oauth.app) as o, ServerThread(api.app) as a:
        yield CodexStack(book, oauth, api, o.url, a.url)


@dataclass
class AmpStack:
    recorder: Any
    url: str
    key: str = "amp-upstream-secret-key"


@pytest.fixture(scope="session")
def amp_stack() -> Iterator[AmpStack]:
    from tests.fakes.ampcode import create_app

    app, recorder = create_app()
    with ServerThread(app) as srv:
        yield AmpStack(recorder, srv.url)


@pytest.fixture(scope="session")
def auth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth")
    path.chmod(0o700)
    return path


def gateway_env(claude: ClaudeStack, codex: CodexStack, auth: Path, amp: AmpStack | None = None) -> dict[str, str]:
    return {
        "SUBGATE_AUTH_DIR": str(auth),
        "SUBGATE_SCAN_INTERVAL": str(SCAN_INTERVAL),
        "SUBGATE_CLAUDE_API_BASE": claude.api_url,
        "SUBGATE_CLAUDE_TOKEN_URL": claude.oauth_url + "/v1/oauth/token",
        "SUBGATE_CLAUDE_AUTHORIZE_URL": claude.oauth_url + "/oauth/authorize",
        "SUBGATE_CLAUDE_PROFILE_URL": claude.oauth_url + "/api/oauth/profile",
        "SUBGATE_CODEX_API_BASE": codex.api_url + "/backend-api/codex",
        "SUBGATE_CODEX_TOKEN_URL": codex.oauth_url + "/oauth/token",
        "SUBGATE_CODEX_AUTHORIZE_URL": codex.oauth_url + "/oauth/authorize",
        "SUBGATE_AMP_UPSTREAM_URL": amp.url if amp else "",
        "AMP_API_KEY": amp.key if amp else "",
        "HOME": str(auth.parent),
    }


@pytest.fixture(scope="session")
def gateway(claude_stack: ClaudeStack, codex_stack: CodexStack, amp_stack: AmpStack, auth_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    log = tmp_path_factory.mktemp("logs") / "gateway.log"
    with GatewayProcess(gateway_env(claude_stack, codex_stack, auth_dir, amp_stack), log_path=log) as gw:
        yield gw


@dataclass
class TestAccount:
    provider: str
    email: str
    path: Path
    grant: Grant

    def data(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())


def wait_for_scan() -> None:
    time.sleep(SCAN_INTERVAL * 4)


class Accounts:
    """Writes credential files the way `python -m gateway login` would, and removes them after."""

    def __init__(self, auth: Path, claude: ClaudeStack, codex: CodexStack) -> None:
        self.auth, self.claude, self.codex = auth, claude, codex
        self.added: list[TestAccount] = []

    def add(self, provider: str = "claude", *, expired: bool = False, extra: dict | None = None,
            wait: bool = True) -> TestAccount:
        n = next(_counter)
        email = f"{provider}{n}@example.com"
        if provider == "claude":
            grant = self.claude.book.issue(email)
            data = {"type": "claude", "email": email, "id_token": ""}
        else:
            grant = self.codex.book.issue(email, self.codex.oauth.account_id_for(email))
            data = {"type": "codex", "email": email, "account_id": grant.account_id,
                    "id_token": self.codex.oauth.id_token(grant)}
        expiry = time.time() - 60 if expired else grant.expires_at
        if expired:
            self.claude.book.expire(grant.access_token) if provider == "claude" else self.codex.book.expire(grant.access_token)
        data.update({
            "access_token": grant.access_token, "refresh_token": grant.refresh_token,
            "expired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry)),
            "last_refresh": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "unknown_key_kept": {"note": "written by another tool"},
        })
        data.update(extra or {})
        path = self.auth / f"{provider}-{email}.json"
        path.write_text(json.dumps(data))
        path.chmod(0o600)
        acct = TestAccount(provider, email, path, grant)
        self.added.append(acct)
        if wait:
            wait_for_scan()
        return acct

    def cleanup(self) -> None:
        for acct in self.added:
            acct.path.unlink(missing_ok=True)
        if self.added:
            wait_for_scan()


@pytest.fixture
def accounts(auth_dir: Path, claude_stack: ClaudeStack, codex_stack: CodexStack, gateway: GatewayProcess) -> Iterator[Accounts]:
    yield from accounts_in(auth_dir, claude_stack, codex_stack)


def accounts_in(auth: Path, claude_stack: ClaudeStack, codex_stack: CodexStack, *,
                accounts: Accounts | None = None, clear_recorders: bool = False) -> Iterator[Accounts]:
    """Accounts written into `auth` for one test (`accounts`: a subclass instance, e.g. the hardening
    tests' faster one), with the fakes' scripted modes cleared before and after (and their recorded
    requests after, with `clear_recorders`)."""
    acc = accounts if accounts is not None else Accounts(auth, claude_stack, codex_stack)
    claude_stack.api.clear_modes()
    codex_stack.api.clear_modes()
    try:
        yield acc
    finally:
        acc.cleanup()
        claude_stack.api.clear_modes()
        codex_stack.api.clear_modes()
        if clear_recorders:
            claude_stack.api.recorder.clear()
            codex_stack.api.recorder.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On an e2e failure, show the end of the gateway's log: it says which account did what."""
    outcome = yield
    report = outcome.get_result()
    gw = item.funcargs.get("gateway") if hasattr(item, "funcargs") else None
    if report.failed and gw is not None:
        report.sections.append(("gateway log (tail)", gw.log_text()[-4000:]))


# ---- the plug-in entry point: `litellm --config config/litellm.yaml` with the gateway's hook ----------


@pytest.fixture(scope="module")
def plain(claude_stack, codex_stack, auth_dir, tmp_path_factory):
    """LiteLLM's own CLI serving config/litellm.yaml; the URL (no Amp routes, no front layer)."""
    port = free_port()
    log = tmp_path_factory.mktemp("plain") / "litellm.log"
    env = {**os.environ, **gateway_env(claude_stack, codex_stack, auth_dir),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "true"}
    litellm_cli = Path(sys.executable).parent / "litellm"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(litellm_cli), "--config", "config/litellm.yaml", "--port", str(port), "--host", "127.0.0.1"],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(url + "/health/liveliness", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


@dataclass
class Served:
    """One entry point serving the model routes: `gateway` (python -m gateway.amp) or `plain` (litellm --config)."""

    entry: str
    url: str


@pytest.fixture(params=["gateway", "plain"])
def served(request: pytest.FixtureRequest) -> Served:
    """The model routes on both entry points, for tests of what the Router, the hook and the providers do:
    those behave the same whichever app is in front of them."""
    value = request.getfixturevalue(request.param)
    return Served(request.param, value.url if request.param == "gateway" else value)


# ---- a second gateway for the operator features (management API, logs), module-scoped ------------------

MANAGEMENT_KEY = "mgmt-plain-secret-e2e"
CLIENT_KEY = "client-key-e2e-0123456789"


@dataclass
class ManagedGateway:
    gw: GatewayProcess
    auth: Path
    config: Path
    original_config: str
    key: str = MANAGEMENT_KEY
    client_key: str = CLIENT_KEY

    @property
    def url(self) -> str:
        return self.gw.url

    @property
    def log_file(self) -> Path:
        return self.auth / "logs" / "subgate.log"


def managed_config_text() -> str:
    """The default config with a management secret, a client key and the log file switched on."""
    from tests.gateway_process import ROOT

    text = (ROOT / "config" / "litellm.yaml").read_text()
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("gateway:"))
    out = lines[: start + 1]
    out.append(f'  remote-management:\n    secret-key: "{MANAGEMENT_KEY}"  # hashed on first start\n')
    for line in lines[start + 1:]:
        if line.startswith("  api-keys:"):
            line = f'  api-keys: ["{CLIENT_KEY}"]\n'
        elif line.startswith("  logging-to-file:"):
            line = "  logging-to-file: true\n"
        out.append(line)
    return "".join(out)


@pytest.fixture(scope="module")
def managed_gateway(claude_stack: ClaudeStack, codex_stack: CodexStack, amp_stack: AmpStack,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedGateway]:
    root = tmp_path_factory.mktemp("managed")
    auth = root / "auth"
    auth.mkdir(mode=0o700)
    config = root / "litellm.yaml"
    config.write_text(managed_config_text())
    original = config.read_text()
    env = gateway_env(claude_stack, codex_stack, auth, amp_stack)
    env["MANAGEMENT_PASSWORD"] = ""
    with GatewayProcess(env, log_path=root / "gateway.log", config=config) as gw:
        yield ManagedGateway(gw, auth, config, original)


@pytest.fixture
def managed_accounts(managed_gateway: ManagedGateway, claude_stack: ClaudeStack,
                     codex_stack: CodexStack) -> Iterator[Accounts]:
    yield from accounts_in(managed_gateway.auth, claude_stack, codex_stack)
