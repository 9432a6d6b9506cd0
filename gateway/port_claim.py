"""The gateway's listening socket, bound before anything slow happens, and who holds it if not us.

Binding first (before LiteLLM is imported, ~6 s) turns "address already in use" into one line at
once that names the program holding the port and the flag that avoids it. The bound socket is
handed to uvicorn as it is, so no other process can take the port in between; it only starts
accepting (listen) once the app's start-up is complete, so "listening" is printed when it is true.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path


class PortTaken(Exception):
    """The port is not available; the message is the one line a user needs."""


def _bind_host(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host.strip("[]")


def claim(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) socket for host:port, or PortTaken with the owner named."""
    bind_host = _bind_host(host)
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is not "in use"
        sock.bind((bind_host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(taken_message(host, port)) from None
        raise PortTaken(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Use an address of this machine "
                        "(127.0.0.1, or 0.0.0.0 with gateway.api-keys) and a port above 1023, e.g. --port 8318") from None
    sock.set_inheritable(True)  # several workers share it
    return sock


def taken_message(host: str, port: int) -> str:
    alternative = next_free_port(host, port)
    hint = f"start this one with --port {alternative}" if alternative else "start this one with --port N"
    owner = owner_of(port)
    if serves_subgate(host, port):
        who = f"a running subgate{f' ({owner})' if owner else ''}"
        return f"{host}:{port} is already served by {who}; use that one, stop it, or {hint}."
    who = owner or f"another program (`lsof -i :{port}` shows which)"
    return f"{host}:{port} is in use by {who}; stop it, or {hint}."


def next_free_port(host: str, port: int, tries: int = 20) -> int | None:
    bind_host = _bind_host(host)
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((bind_host, candidate))
                return candidate
            except OSError:
                continue
    return None


def serves_subgate(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when /health there answers as a subgate does."""
    import httpx

    probe = _bind_host(host)
    probe = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(probe, probe)
    url = f"http://[{probe}]:{port}/health" if ":" in probe else f"http://{probe}:{port}/health"
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
        return response.status_code == 200 and response.json() == {"status": "ok"}
    except (httpx.HTTPError, ValueError):
        return False


def owner_of(port: int) -> str:
    """"pid 1234: python -m gateway.amp" for the process listening on the port, or "" when unknown.

    Linux only (/proc); elsewhere, and for other users' processes, the caller falls back to lsof."""
    inodes = _listening_inodes(port)
    if not inodes:
        return ""
    proc = Path("/proc")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return f"pid {entry.name}: {_cmdline(entry)}"
        except OSError:
            continue
    return ""


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    return inodes


def _cmdline(entry: Path) -> str:
    try:
        raw = (entry / "cmdline").read_bytes()
    except OSError:
        return "?"
    words = [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]
    if words:
        words[0] = os.path.basename(words[0])
    text = " ".join(" ".join(words).split())  # one line, even for `python -c "<script>"`
    return text if len(text) <= 80 else text[:77] + "..."
