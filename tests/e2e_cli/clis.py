"""The real coding-agent CLIs from the npm registry: where they are installed and how a test runs one.

The versions are pinned because these clients change their request shapes every few weeks; the tests
assert the request shapes these builds send. install_clis.sh installs the same
list into the cache folder.

A CLI runs with an environment built from nothing but PATH and a throw-away HOME, so a developer's
real vendor keys, logins and settings can never leak into a test (or a test's traffic into them).
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pytest

VERSIONS = {  # keep in step with install_clis.sh
    "claude": "@anthropic-ai/claude-code@2.1.332",
    "codex": "@openai/codex@0.169.0",
    "droid": "droid@0.215.0",
    "amp": "@sourcegraph/amp@0.0.1767830505-ga62310",
}
ENABLE = "SUBGATE_OPTIN=1 bash tests/e2e_cli/install_clis.sh && SUBGATE_OPTIN=1 .venv/bin/pytest tests/e2e_cli"
TIMEOUT = 120.0


def cli_dir() -> Path:
    return Path(os.environ.get("SUBGATE_CLI_DIR") or "/tmp/subgate-clis")


def binary(name: str) -> Path:
    return cli_dir() / "node_modules" / ".bin" / name


def requires(name: str) -> list[pytest.MarkDecorator]:
    """`pytestmark` for a module that drives CLI `name`: opt-in, and only once it is installed."""
    opted_in = os.environ.get("SUBGATE_OPTIN") == "1"
    reason = (f"opt-in end-to-end test with the real {VERSIONS[name]} CLI"
              f"{'' if opted_in else ' (SUBGATE_OPTIN is not 1)'}"
              f"{'' if binary(name).exists() else f' ({binary(name)} is not installed)'}; enable with: {ENABLE}")
    return [pytest.mark.optin, pytest.mark.skipif(not (opted_in and binary(name).exists()), reason=reason)]


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return f"$ {' '.join(self.args)}\nexit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"


def clean_env(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """PATH (node lives there), a private HOME and the given variables; nothing else from the caller."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(home),
           "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1", "CI": "1"}
    env.update(extra)
    return env


def run_cli(name: str, args: list[str], *, home: Path, cwd: Path, env: Mapping[str, str],
            timeout: float = TIMEOUT) -> Run:
    """Run the CLI to completion with no stdin; on timeout kill its whole process group (CLIs fork helpers)."""
    argv = [str(binary(name)), *args]
    proc = subprocess.Popen(argv, cwd=cwd, env=clean_env(home, env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[killed after {timeout:.0f} s]"
    return Run(argv, proc.returncode, out, err)
