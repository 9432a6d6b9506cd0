"""kill -9 in the middle of refreshing, 100 times: the token file always parses and holds a usable token.

A child process refreshes one account in a loop through the real TokenStore, against a loopback token
server that rotates single-use refresh tokens as claude.ai does (tests/gateway/token_processes.py), and
is killed with SIGKILL at a random moment: during the HTTP exchange, the JSON dump, the fsync, the
rename, or between refreshes. After every kill the file must parse, be 0600, and hold either the
refresh token the server currently accepts or the one it just rotated away.

The second case is inherent, not a bug: when the process dies after the server has rotated but before
the new pair reached the disk, the old token is spent and the new one exists only in the dead
process. No client-side write order can close that window (the server commits first); real users see
it as a `needs-login` account. The test counts how often a random kill hits it, simulates the re-login
the user would do, and checks that no process ever spent a token twice (`reuse_count == 0`).
tests/gateway/test_token_store.py already kills bare writers 30 times; this is the full refresh path.
"""

from __future__ import annotations

import json
import random
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from custom_providers.credentials import rfc3339
from gateway.token_store import NEEDS_LOGIN_KEY
from tests.fakes.tokens import Grant, TokenBook
from tests.gateway.token_processes import CHILD_STORE, REPO, RotatingTokenServer, _child_env
from tests.servers import ServerThread

KILLS = 100
SLOTS = 4  # accounts refreshed side by side, one child process each
MAX_KILL_DELAY = 0.04  # each refresh round trip + atomic write takes a few ms: kills land mid-loop

LOOPER = CHILD_STORE + r"""
auth_dir, url = Path(sys.argv[1]), sys.argv[2]


async def main():
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        store, acct = await open_store(http, auth_dir, url)
        print("ready", flush=True)
        while True:  # as an upstream 401 would: refresh whatever token is current
            await store.refresh(acct, failed_token=acct.access_token)


asyncio.run(main())
"""


@dataclass
class LineageBook(TokenBook):
    """A token book that remembers which refresh token each new one replaced."""

    parent: dict[str, str] = field(default_factory=dict)

    def rotate(self, refresh_token: str, *, ttl: float | None = None) -> Grant:
        grant = super().rotate(refresh_token, ttl=ttl)
        self.parent[grant.refresh_token] = refresh_token
        return grant

    def live_refresh_token(self, email: str) -> str | None:
        with self._lock:
            live = [t for t, g in self._live_refresh.items() if g.email == email]
        return live[-1] if live else None


class QuietTokenServer(RotatingTokenServer):
    """Counts requests in progress, so the test looks at the files only once the server is idle."""

    inflight: int = 0

    async def _token(self, request):  # type: ignore[no-untyped-def]
        self.inflight += 1
        try:
            return await super()._token(request)
        finally:
            self.inflight -= 1

    def wait_quiet(self, grace: float = 0.05, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        time.sleep(grace)  # a request fully received before the kill is dispatched within this
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.inflight == 0


@dataclass
class Slot:
    email: str
    path: Path
    proc: subprocess.Popen | None = None


def write_login(book: LineageBook, slot: Slot) -> None:
    """What `python -m gateway login` leaves behind: a fresh pair, written once."""
    grant = book.issue(slot.email)
    slot.path.write_text(json.dumps({
        "type": "claude", "email": slot.email, "id_token": "", "access_token": grant.access_token,
        "refresh_token": grant.refresh_token, "expired": rfc3339(grant.expires_at), "last_refresh": rfc3339(),
    }))
    slot.path.chmod(0o600)


def start(slot: Slot, url: str) -> None:
    slot.proc = subprocess.Popen([sys.executable, "-c", LOOPER, str(slot.path.parent), url], cwd=REPO,
                                 env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_during_refresh_never_leaves_an_unusable_token_file(tmp_path: Path) -> None:
    book = LineageBook()
    server = QuietTokenServer(book, delay=0)
    rng = random.Random()
    slots = []
    for n in range(SLOTS):
        auth = tmp_path / f"auth{n}"
        auth.mkdir(mode=0o700)
        slot = Slot(f"crash{n}@example.com", auth / f"claude-crash{n}@example.com.json")
        write_login(book, slot)
        slots.append(slot)
    kills = current = lost = 0
    t0 = time.monotonic()
    with ServerThread(server.app()) as srv:
        url = srv.url + "/token"
        while kills < KILLS:
            batch = slots[: min(SLOTS, KILLS - kills)]
            for slot in batch:
                start(slot, url)
            for slot in batch:
                assert slot.proc is not None and slot.proc.stdout is not None
                line = slot.proc.stdout.readline().strip()
                assert line == "ready", slot.proc.stderr.read() if slot.proc.stderr else line
            for slot in batch:
                assert slot.proc is not None
                time.sleep(rng.uniform(0, MAX_KILL_DELAY))
                slot.proc.send_signal(signal.SIGKILL)
                slot.proc.wait()
                slot.proc.stdout.close()  # type: ignore[union-attr]
                slot.proc.stderr.close()  # type: ignore[union-attr]
                kills += 1
            server.wait_quiet()  # a request the dead process sent may still be rotating on the server
            for slot in batch:
                data = json.loads(slot.path.read_text())  # never a half-written file
                assert stat.S_IMODE(slot.path.stat().st_mode) == 0o600
                assert NEEDS_LOGIN_KEY not in data
                on_disk, live = data["refresh_token"], book.live_refresh_token(slot.email)
                if on_disk == live:
                    current += 1
                else:
                    # the one rotation whose answer died with the process; anything older is a bug
                    assert book.parent.get(live or "") == on_disk, (on_disk, live)
                    lost += 1
                    write_login(book, slot)  # the user logs in again
    elapsed = time.monotonic() - t0
    leftovers = sum(1 for slot in slots for p in slot.path.parent.glob(".*.tmp"))
    print(f"\n{kills} kills in {elapsed:.1f} s: {book.refresh_calls} rotations, token file current after "
          f"{current}, lost-rotation window hit {lost} times, {leftovers} temp files left by killed writes")
    assert kills == KILLS
    assert book.reuse_count == 0  # no process ever presented a spent refresh token
    assert book.refresh_calls > KILLS  # the kills landed while refreshes were running
    assert current > 0 and lost + current == KILLS
