"""Drive a CLI's full-screen TUI in a pseudo-terminal: type into it, read what it drew as plain text.

`codex exec` has no `/status`; the interactive TUI does. It needs a terminal (a pty here, 160x50) and
asks the terminal where its cursor is at start-up, which this answers so the TUI does not wait.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from pathlib import Path
from typing import Mapping

_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[a-zA-Z~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78]")


class Tui:
    def __init__(self, argv: list[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the CLI
            os.chdir(cwd)
            os.execve(argv[0], argv, dict(env))
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        self.raw = b""

    def read_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # the CLI exited
                return
            self.raw += data
            if b"\x1b[6n" in data:  # "where is the cursor?"
                os.write(self.fd, b"\x1b[1;1R")

    def wait_for(self, pattern: str, seconds: float) -> re.Match[str] | None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            found = re.search(pattern, self.text)
            if found:
                return found
            self.read_for(0.3)
        return re.search(pattern, self.text)

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    @property
    def text(self) -> str:
        return re.sub(r"[ \t]+", " ", _ESCAPES.sub(b" ", self.raw).decode("utf-8", "replace"))

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)
