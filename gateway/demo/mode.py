"""What --demo does around an ordinary gateway start, and undoes at exit.

The gateway itself runs unchanged: demo mode only chooses its inputs (the shipped config, a throwaway
auth-dir holding demo accounts, SUBGATE_* overrides that point every upstream URL at the stand-ins),
so what a newcomer sees is the production request path, not a special case of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from gateway.config import DEFAULT_CONFIG_PATH
from gateway.demo.accounts import write_demo_accounts
from gateway.demo.banner import banner
from gateway.demo.upstreams import DemoUpstreams


class DemoMode:
    def __init__(self, upstreams: DemoUpstreams, auth_dir: Path) -> None:
        self.upstreams = upstreams
        self.auth_dir = auth_dir

    @classmethod
    def start(cls) -> "DemoMode":
        """Start the stand-ins, write the demo accounts, and point this process's settings at both.

        The shipped config is used whatever SUBGATE_CONFIG says: a user config could name a model
        served with a real API key, and demo mode promises that nothing reaches a vendor."""
        upstreams = DemoUpstreams().start()
        auth_dir = Path(tempfile.mkdtemp(prefix="subgate-demo-"))  # mode 0700
        demo = cls(upstreams, auth_dir)
        try:
            write_demo_accounts(upstreams, auth_dir)
        except BaseException:
            demo.close()
            raise
        os.environ.update(upstreams.env())
        os.environ["SUBGATE_AUTH_DIR"] = str(auth_dir)
        os.environ["SUBGATE_STORE"] = ""  # the demo accounts are files in the temp auth-dir, never a team's Redis
        os.environ["SUBGATE_CONFIG"] = str(DEFAULT_CONFIG_PATH)
        # uvicorn re-raises the SIGTERM it caught once it has shut down; as SystemExit it unwinds through
        # the caller's `finally` (and close()) instead of killing the process with the temp dir left behind.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return demo

    def banner(self, host: str, port: int) -> str:
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        shown = f"[{shown}]" if ":" in shown else shown
        return banner(f"http://{shown}:{port}", self.upstreams.url, self.auth_dir)

    def close(self) -> None:
        """Stop the stand-ins and delete the demo auth-dir (tokens, usage file, logs)."""
        self.upstreams.stop()
        shutil.rmtree(self.auth_dir, ignore_errors=True)
        print(f"subgate demo: removed {self.auth_dir}", flush=True)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    sys.exit(128 + signum)
