"""The provider-neutral half of an interactive OAuth login: PKCE, state, and getting the code back.

Both subscription logins (docs/architecture.md, "Accounts and tokens") are the same dance: open an authorize
URL, then wait for the browser to come back to a loopback callback server -- or for the user to paste
the redirect URL when the browser runs on another machine. CLIProxyAPI keeps a near-identical copy of
this per provider; here it exists once and each provider only supplies its URL, port and path.

The callback server is a few dozen lines over `asyncio.start_server` rather than uvicorn: it answers
one GET, must fail fast with a clear message when its port is taken, and must not drag a web framework
into the CLI. Whichever of callback and paste delivers a code first wins.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import os
import secrets
import select
import sys
import threading
import webbrowser
from dataclasses import dataclass
from typing import Callable, TextIO
from urllib.parse import parse_qs, urlsplit, urlunsplit

from custom_providers.errors import LoginError

LOGIN_TIMEOUT_SECONDS = 300.0
PASTE_PROMPT_AFTER_SECONDS = 15.0
PROGRESS_EVERY_SECONDS = 60.0
_SUCCESS_LINGER_SECONDS = 2.0
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")

Output = Callable[[str], None]
BrowserOpener = Callable[[str], bool]


@dataclass(frozen=True)
class PKCEPair:
    verifier: str
    challenge: str


@dataclass(frozen=True)
class AuthorizationCode:
    code: str
    state: str
    source: str  # "callback" or "paste"


def pkce_pair() -> PKCEPair:
    """96 random bytes make a 128-character verifier, the length both reference clients send."""
    verifier = _b64url(secrets.token_bytes(96))
    return PKCEPair(verifier, s256_challenge(verifier))


def s256_challenge(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_state() -> str:
    return secrets.token_hex(16)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def loopback_redirect_uri(redirect_uri: str, port: int) -> str:
    """The redirect URI with its port set to the callback port.

    `callback_port` is the one knob (like the reference's `-oauth-callback-port`): a loopback redirect
    must name the port we listen on, or the browser lands on nothing. Non-loopback URIs are left alone.
    """
    parts = urlsplit(redirect_uri)
    if parts.hostname not in _LOOPBACK_HOSTS or not port or parts.port == port:
        return redirect_uri
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, parts.query, parts.fragment))


def parse_pasted(text: str) -> tuple[str, str | None]:
    """(code, state or None) from a pasted redirect URL, a `code#state` string or a bare code."""
    text = text.strip().strip("\"'")
    if not text:
        raise LoginError("nothing was pasted")
    if "://" in text or text.startswith(("/", "?")) or "code=" in text or "error=" in text:
        query = urlsplit(text).query if "://" in text or text.startswith("/") else text.lstrip("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        if "error" in params:
            raise LoginError(_provider_error(params))
        if not params.get("code"):
            raise LoginError("the pasted URL has no `code` parameter")
        return _split_code(params["code"], params.get("state"))
    return _split_code(text, None)


def _split_code(code: str, state: str | None) -> tuple[str, str | None]:
    if "#" in code:
        code, _, tail = code.partition("#")
        state = tail or state
    return code, state or None


def _provider_error(params: dict[str, str]) -> str:
    detail = params.get("error_description") or ""
    return f"authorization was refused: {params['error']}" + (f" ({detail})" if detail else "")


class CallbackServer:
    """Answers the browser's redirect on the loopback port and hands over the first code it sees."""

    def __init__(self, port: int, path: str, expected_state: str, *, provider: str = "the provider") -> None:
        self.port = port
        self.path = path or "/"
        self.expected_state = expected_state
        self.provider = provider
        self._servers: list[asyncio.AbstractServer] = []
        self._result: asyncio.Future[AuthorizationCode] | None = None
        self._success_served = asyncio.Event()

    @property
    def result(self) -> asyncio.Future[AuthorizationCode]:
        assert self._result is not None, "start() first"
        return self._result

    async def start(self) -> None:
        self._result = asyncio.get_running_loop().create_future()
        try:
            self._servers.append(await asyncio.start_server(self._handle, "127.0.0.1", self.port))
        except OSError as exc:
            raise LoginError(
                f"cannot listen on port {self.port} for the {self.provider} login callback ({exc.strerror or exc}); "
                f"another login may be running. Free the port, set a different callback port, "
                f"or use --paste to paste the redirect URL instead."
            ) from None
        try:  # browsers may resolve `localhost` to ::1 first; IPv6 is a bonus, not a requirement
            self._servers.append(await asyncio.start_server(self._handle, "::1", self.port))
        except OSError:
            pass

    async def close(self, *, linger: float = 0.0) -> None:
        """Stop listening; `linger` lets a browser that got our 302 still load the success page."""
        result = self._result
        if linger and result is not None and result.done() and not result.cancelled() and not result.exception():
            try:
                await asyncio.wait_for(self._success_served.wait(), linger)
            except asyncio.TimeoutError:
                pass
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, target = _request_line(head)
            status, headers, page = self._route(method, target)
            body = page.encode()
            lines = [f"HTTP/1.1 {status}", "Content-Type: text/html; charset=utf-8",
                     f"Content-Length: {len(body)}", "Connection: close", "Cache-Control: no-store"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def _route(self, method: str, target: str) -> tuple[str, dict[str, str], str]:
        parts = urlsplit(target)
        if method != "GET":
            return "405 Method Not Allowed", {"Allow": "GET"}, _page("Method not allowed", "")
        if parts.path == "/success":
            self._success_served.set()
            return "200 OK", {}, _page("Login successful", "You can close this window and return to the terminal.")
        if parts.path != self.path:
            return "404 Not Found", {}, _page("Not found", "")
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if "error" in params:
            message = _provider_error(params)
            self._fail(LoginError(message))
            return "400 Bad Request", {}, _page("Login failed", message)
        if not params.get("code"):
            self._fail(LoginError("the callback carried no authorization code (no_code)"))
            return "400 Bad Request", {}, _page("Login failed", "no_code")
        if not params.get("state"):
            self._fail(LoginError("the callback carried no state (no_state)"))
            return "400 Bad Request", {}, _page("Login failed", "no_state")
        if params["state"] != self.expected_state:
            self._fail(LoginError("invalid state: the callback does not belong to this login attempt"))
            return "400 Bad Request", {}, _page("Login failed", "invalid state")
        if self._result is not None and not self._result.done():
            self._result.set_result(AuthorizationCode(params["code"], params["state"], "callback"))
        return "302 Found", {"Location": "/success"}, ""

    def _fail(self, error: LoginError) -> None:
        if self._result is not None and not self._result.done():
            self._result.set_exception(error)


def _request_line(head: bytes) -> tuple[str, str]:
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    method, target, _version = line.split(" ", 2)
    return method.upper(), target


def _page(title: str, text: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;margin:3em'><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(text)}</p></body></html>")


class PasteReader:
    """Lines from a (blocking) text stream, read on a daemon thread so the event loop keeps running.

    A daemon thread rather than `asyncio.to_thread`: a readline on a terminal may never return, and
    the default executor would make `asyncio.run` wait for it at shutdown. Streams backed by a file
    descriptor are read with select() so `stop()` really ends the thread -- a reader left behind
    after the callback won would otherwise swallow the next line the user types.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._stop = threading.Event()
        threading.Thread(target=self._pump, name="oauth-paste-reader", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _deliver(self, line: str | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
        except RuntimeError:  # the loop is gone: nobody is waiting any more
            self._stop.set()

    def _pump(self) -> None:
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        try:
            if fd is None or sys.platform == "win32":
                for line in iter(self._stream.readline, ""):
                    if self._stop.is_set():
                        return
                    self._deliver(line)
            else:
                self._pump_fd(fd)
        except (OSError, ValueError):
            pass
        if not self._stop.is_set():
            self._deliver(None)

    def _pump_fd(self, fd: int) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready or self._stop.is_set():
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                if pending:
                    self._deliver(pending.decode("utf-8", "replace"))
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self._deliver(line.decode("utf-8", "replace") + "\n")

    async def readline(self) -> str | None:
        """The next line, or None at end of input."""
        return await self._lines.get()


async def _paste_wins(
    stream: TextIO, out: Output, prompt: str, expected_state: str, delay: float
) -> AuthorizationCode:
    if delay:
        await asyncio.sleep(delay)
    out(prompt)
    reader = PasteReader(stream)
    try:
        while True:
            line = await reader.readline()
            if line is None:
                await asyncio.Future()  # input closed: leave the field to the callback / timeout
            if not line.strip():
                continue
            try:
                code, state = parse_pasted(line)
            except LoginError as exc:
                out(f"Could not use that: {exc}. Paste the full redirect URL (or the code) again:")
                continue
            if state is not None and state != expected_state:
                raise LoginError("invalid state: the pasted code does not belong to this login attempt")
            return AuthorizationCode(code, state or expected_state, "paste")
    finally:
        reader.stop()


async def _progress(out: Output, timeout: float, every: float) -> None:
    left = timeout
    while left > every:
        await asyncio.sleep(every)
        left -= every
        out(f"Still waiting for the login... {int(left) // 60}:{int(left) % 60:02d} left")
    await asyncio.Future()


def _ssh_hint(port: int) -> str:
    return (f"If the browser runs on another machine, forward the callback port first:\n"
            f"    ssh -L {port}:127.0.0.1:{port} user@host\n"
            f"or rerun with --paste and paste the URL the browser ends up on.")


async def obtain_authorization_code(
    authorize_url: str,
    *,
    state: str,
    redirect_uri: str,
    port: int,
    provider: str,
    no_browser: bool = False,
    paste: bool = False,
    out: Output = print,
    input_stream: TextIO | None = None,
    timeout: float = LOGIN_TIMEOUT_SECONDS,
    open_browser: BrowserOpener | None = None,
    paste_after: float = PASTE_PROMPT_AFTER_SECONDS,
    progress_every: float = PROGRESS_EVERY_SECONDS,
) -> AuthorizationCode:
    """Show/open the authorize URL and return the code from the callback or a paste, whichever is first.

    With `paste`, the prompt appears at once and a busy callback port is only a warning. Without it, an
    interactive input (a tty, or an explicit `input_stream`) is offered the paste prompt after
    `paste_after` seconds, as the reference does; the callback listener runs either way, because
    `--no-browser` over an SSH tunnel still needs it.
    """
    server = CallbackServer(port, urlsplit(redirect_uri).path, state, provider=provider)
    listening = True
    try:
        await server.start()
    except LoginError as exc:
        if not paste:
            raise
        listening = False
        out(f"Warning: {exc}")

    stream = input_stream if input_stream is not None else sys.stdin
    interactive = input_stream is not None or (stream is not None and stream.isatty())
    tasks: list[asyncio.Future[AuthorizationCode]] = []
    helpers: list[asyncio.Task[None]] = []
    try:
        out(f"Open this URL to log in to {provider}:\n\n    {authorize_url}\n")
        opened = False
        if not no_browser:
            try:
                opened = bool((open_browser or webbrowser.open)(authorize_url))
            except Exception:  # no browser, no display: the printed URL is the fallback
                opened = False
            if not opened:
                out("Could not open a browser; open the URL above yourself.")
        if listening and (no_browser or not opened):
            out(_ssh_hint(port))
        if listening:
            out(f"Waiting for the browser to return to {redirect_uri} "
                f"(times out in {int(timeout) // 60}:{int(timeout) % 60:02d})...")
            tasks.append(server.result)
        if paste or interactive:
            prompt = ("Paste the redirect URL (or the code) and press Enter:" if paste else
                      f"Paste the {provider} callback URL (or press Enter to keep waiting):")
            tasks.append(asyncio.ensure_future(
                _paste_wins(stream, out, prompt, state, 0.0 if paste else paste_after)))
        if not tasks:
            raise LoginError("no way to receive the login: the callback port is busy and no input to paste from")
        helpers.append(asyncio.ensure_future(_progress(out, timeout, progress_every)))
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise LoginError(f"timed out after {int(timeout)} s waiting for the {provider} login")
        result = next(iter(done)).result()
        out("Authorization code received.")
        return result
    finally:
        for task in tasks + helpers:
            task.cancel()  # a no-op on the one that finished
        if listening:
            await server.close(linger=_SUCCESS_LINGER_SECONDS)
