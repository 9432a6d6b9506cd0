"""Child processes for the token store's cross-process tests: a refresh race and a kill -9 writer.

The race is two real Python processes, each with its own TokenStore on the same auth-dir, refreshing
through a loopback token endpoint that rotates single-use refresh tokens (tests/fakes/tokens.py), as
claude.ai and auth.openai.com do. Only the file lock + re-read can keep them to one spend.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from custom_providers.credentials import rfc3339
from tests.fakes.tokens import RefreshReused, RefreshUnknown, TokenBook
from tests.servers import ServerThread

REPO = Path(__file__).resolve().parents[2]


def rotating_refresher(http: Any, url: str) -> Any:
    """A provider refresh call against RotatingTokenServer at `url` (a 400 is a spent or unknown
    token), for a TokenStore in this process or in a child process (CHILD_STORE imports it)."""
    from custom_providers.credentials import expiry_from
    from custom_providers.errors import RefreshFailed, RefreshTokenRejected

    async def refresh(refresh_token: str) -> dict:
        reply = await http.post(url, json={"refresh_token": refresh_token})
        if reply.status_code == 400:
            raise RefreshTokenRejected(reply.text)
        if reply.status_code != 200:
            raise RefreshFailed(reply.text)
        body = reply.json()
        return {"access_token": body["access_token"], "refresh_token": body["refresh_token"],
                "expired": expiry_from(body["expires_in"])}

    return refresh


CHILD_STORE = r"""
import asyncio, json, os, sys
from pathlib import Path

import httpx

from gateway.store import open_store as open_backend
from gateway.token_store import TokenStore
from tests.gateway.token_processes import rotating_refresher


async def open_store(http, auth_dir, url):
    # the real TokenStore on auth_dir, refreshing at the rotating token server `url`
    refresh = rotating_refresher(http, url)
    # SUBGATE_STORE: "" for auth-dir files, or a Redis URL (each process then is one "host")
    backend = open_backend(os.environ.get("SUBGATE_STORE", ""), auth_dir)
    await backend.pull()
    store = TokenStore(auth_dir=auth_dir, refreshers={"claude": refresh}, backend=backend)
    store.scan()
    return store, store.accounts()[0]
"""
"""Child-process prelude shared by the refresh race here and the kill -9 loop in tests/hardening."""

RACER = CHILD_STORE + r"""
auth_dir, url, ready, go, callers = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])


async def main():
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        store, acct = await open_store(http, auth_dir, url)
        ready.touch()
        while not go.exists():
            await asyncio.sleep(0.002)
        results = await asyncio.gather(*(store.token(acct) for _ in range(callers)), return_exceptions=True)
        print(json.dumps([r if isinstance(r, str) else f"error {type(r).__name__}: {r}" for r in results]))


asyncio.run(main())
"""

WRITER = r"""
import sys
from pathlib import Path

from gateway.atomic_file import write_json_atomic

path, tag = Path(sys.argv[1]), sys.argv[2]
pad = "x" * 300_000  # big enough that a kill often lands inside json.dump or fsync
i = 0
while True:
    i += 1
    write_json_atomic(path, {"type": "claude", "email": "alice@example.com",
                             "refresh_token": f"rt-{tag}-{i}", "pad": pad})
    if i == 1:
        print("ready", flush=True)
"""


def _child_env(store_url: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBGATE_")}
    env["PYTHONPATH"] = str(REPO)
    env["SUBGATE_STORE"] = store_url
    env.update(extra)
    return env


@dataclass
class RotatingTokenServer:
    """POST {"refresh_token"} -> a new pair; a reused or unknown token -> 400 invalid_grant."""

    book: TokenBook
    delay: float = 0.2  # long enough that the other process is waiting on the file lock meanwhile
    issued: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/token", self._token, methods=["POST"])])

    async def _token(self, request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(self.delay)
        try:
            grant = self.book.rotate(str(body.get("refresh_token")))
        except RefreshReused:
            return JSONResponse({"error": "invalid_grant", "error_description": "refresh_token_reused"}, 400)
        except RefreshUnknown:
            return JSONResponse({"error": "invalid_grant", "error_description": "unknown refresh token"}, 400)
        self.issued.append(grant.refresh_token)
        return JSONResponse({"access_token": grant.access_token, "refresh_token": grant.refresh_token,
                             "expires_in": 3600, "token_type": "Bearer"})


@dataclass
class RaceResult:
    path: Path
    refresh_calls: int
    reuses: int
    tokens: set[str]
    final_refresh_token: str
    stored: dict[str, Any]  # the credential as the store holds it afterwards


def expired_login(book: TokenBook, email: str = "alice@example.com") -> dict[str, Any]:
    """A credential whose access token has expired: the first caller must refresh it."""
    grant = book.issue(email)
    book.expire(grant.access_token)
    return {"type": "claude", "email": email, "id_token": "",
            "access_token": grant.access_token, "refresh_token": grant.refresh_token,
            "expired": rfc3339(time.time() - 60), "last_refresh": rfc3339(time.time() - 7200)}


def seed(store_url: str, auth_dir: Path, name: str, data: dict[str, Any]) -> None:
    """Put a credential where the racing processes will find it: a file, or the Redis store."""
    if not store_url:
        (auth_dir / name).write_text(json.dumps(data))
        return
    from gateway.store import open_store

    store = open_store(store_url, auth_dir)
    asyncio.run(store._then_close(store.put_credential(name, data)))  # type: ignore[attr-defined]


def stored(store_url: str, auth_dir: Path, name: str) -> dict[str, Any]:
    from gateway.store import open_store

    store = open_store(store_url, auth_dir)

    async def fetch() -> dict[str, Any]:
        try:
            return await store.fetch_credential(name) or {}
        finally:
            await store.aclose()

    return asyncio.run(fetch())


def run_token_race(tmp_path: Path, *, processes: int, callers: int, store_url: str = "") -> RaceResult:
    """With store_url each process has an auth-dir of its own (another host) and Redis holds the account."""
    book = TokenBook()
    name = "claude-alice@example.com.json"
    dirs = [tmp_path / (f"host{n}" if store_url else "auth") for n in range(processes)]
    for auth_dir in dirs:
        auth_dir.mkdir(mode=0o700, exist_ok=True)
    path = dirs[0] / name
    seed(store_url, dirs[0], name, expired_login(book))
    server = RotatingTokenServer(book)
    go = tmp_path / "go"
    with ServerThread(server.app()) as srv:
        children = []
        for n in range(processes):
            ready = tmp_path / f"ready-{n}"
            proc = subprocess.Popen(
                [sys.executable, "-c", RACER, str(dirs[n]), f"{srv.url}/token", str(ready), str(go), str(callers)],
                cwd=REPO, env=_child_env(store_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            children.append((proc, ready))
        deadline = time.monotonic() + 20
        while not all(ready.exists() for _, ready in children):
            if time.monotonic() > deadline or any(p.poll() is not None for p, _ in children):
                for p, _ in children:
                    p.kill()
                raise AssertionError("a racing process did not start: " + children[0][0].communicate()[1][-2000:])
            time.sleep(0.005)
        go.touch()
        tokens: set[str] = set()
        for proc, _ in children:
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err[-2000:]
            results: list[Any] = json.loads(out.strip().splitlines()[-1])
            errors = [r for r in results if r.startswith("error ")]
            assert not errors, errors[:3]
            tokens.update(results)
    return RaceResult(path, book.refresh_calls, book.reuse_count, tokens, server.issued[-1] if server.issued else "",
                      stored(store_url, dirs[0], name) if store_url else json.loads(path.read_text()))


def run_write_crashes(path: Path, *, kills: int, parallel: int = 6) -> list[dict[str, Any]]:
    """kill -9 writers looping on write_json_atomic at random moments; the file as read after each kill."""
    seen: list[dict[str, Any]] = []
    rng = random.Random()
    tag = 0
    while len(seen) < kills:
        batch = []
        for _ in range(min(parallel, kills - len(seen))):
            tag += 1
            batch.append(subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(tag)], cwd=REPO,
                                          env=_child_env(), stdout=subprocess.PIPE, text=True))
        for proc in batch:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in batch:
            time.sleep(rng.uniform(0, 0.02))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            data = json.loads(path.read_text())  # must always parse: never a half-written file
            data.pop("pad", None)
            seen.append(data)
    return seen
