"""The shared login mechanics: PKCE, state, callback server, browser / --no-browser / --paste, timeout."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import socket
import string

import httpx
import pytest

from custom_providers.oauth_flow import (
    CallbackServer,
    loopback_redirect_uri,
    new_state,
    obtain_authorization_code,
    parse_pasted,
    pkce_pair,
)
from custom_providers.errors import LoginError

B64URL = set(string.ascii_letters + string.digits + "-_")


def test_pkce_pair_is_a_128_char_verifier_with_its_s256_challenge() -> None:
    pair = pkce_pair()
    assert len(pair.verifier) == 128 and set(pair.verifier) <= B64URL
    digest = hashlib.sha256(pair.verifier.encode()).digest()
    assert pair.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pkce_pair().verifier != pair.verifier


def test_state_is_32_hex_chars_and_fresh_each_time() -> None:
    state = new_state()
    assert re.fullmatch(r"[0-9a-f]{32}", state)
    assert new_state() != state


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("http://localhost:54545/callback?code=abc&state=s1", ("abc", "s1")),
        ("  'http://localhost:1455/auth/callback?state=s2&code=xyz%2B1'  ", ("xyz+1", "s2")),
        ("/callback?code=abc&state=s1", ("abc", "s1")),
        ("code=abc&state=s1", ("abc", "s1")),
        ("abc#s9", ("abc", "s9")),
        ("abc", ("abc", None)),
    ],
)
def test_parse_pasted_accepts_url_code_hash_state_and_bare_code(pasted: str, expected: tuple) -> None:
    assert parse_pasted(pasted) == expected


def test_parse_pasted_reports_provider_error_and_missing_code() -> None:
    with pytest.raises(LoginError, match="access_denied.*user said no"):
        parse_pasted("http://localhost:1/callback?error=access_denied&error_description=user+said+no")
    with pytest.raises(LoginError, match="no `code`"):
        parse_pasted("http://localhost:1/callback?state=abc")


def test_loopback_redirect_follows_the_callback_port() -> None:
    assert loopback_redirect_uri("http://localhost:54545/callback", 60000) == "http://localhost:60000/callback"
    assert loopback_redirect_uri("http://localhost:1455/auth/callback", 1455) == "http://localhost:1455/auth/callback"
    assert loopback_redirect_uri("https://auth.openai.com/deviceauth/callback", 60000) == \
        "https://auth.openai.com/deviceauth/callback"


async def _login(port: int, state: str, **kwargs):
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("provider", "Test")
    return await obtain_authorization_code(
        f"http://auth.invalid/authorize?state={state}", state=state,
        redirect_uri=f"http://localhost:{port}/callback", port=port, **kwargs)


async def _browser_get(url: str, *, follow: bool = True) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, follow_redirects=follow, timeout=5) as client:
        for _ in range(100):  # the server starts listening right after the call begins
            try:
                return await client.get(url)
            except httpx.ConnectError:
                await asyncio.sleep(0.02)
    raise AssertionError("callback server never came up")


async def test_callback_delivers_code_and_browser_lands_on_success_page(callback_port, out) -> None:
    opened: list[str] = []
    login = asyncio.create_task(_login(callback_port, "st8", out=out, open_browser=lambda u: opened.append(u) or True))
    page = await _browser_get(f"http://localhost:{callback_port}/callback?code=the-code&state=st8")
    result = await login
    assert (result.code, result.state, result.source) == ("the-code", "st8", "callback")
    assert page.status_code == 200 and "Login successful" in page.text
    assert page.history[0].status_code == 302 and page.history[0].headers["location"] == "/success"
    assert opened == ["http://auth.invalid/authorize?state=st8"]
    assert "http://auth.invalid/authorize?state=st8" in out.text
    with pytest.raises(httpx.ConnectError):  # the port is released afterwards
        await httpx.AsyncClient(trust_env=False).get(f"http://127.0.0.1:{callback_port}/success")


async def test_callback_with_foreign_state_is_refused(callback_port, out) -> None:
    login = asyncio.create_task(_login(callback_port, "mine", out=out, open_browser=lambda u: True))
    page = await _browser_get(f"http://localhost:{callback_port}/callback?code=c&state=someone-elses")
    with pytest.raises(LoginError, match="invalid state"):
        await login
    assert page.status_code == 400


@pytest.mark.parametrize(("query", "status", "message"), [
    ("state=s", 400, "no_code"),
    ("code=c", 400, "no_state"),
    ("error=access_denied&state=s", 400, "access_denied"),
])
async def test_callback_errors_fail_the_login(callback_port, out, query, status, message) -> None:
    login = asyncio.create_task(_login(callback_port, "s", out=out, open_browser=lambda u: True))
    page = await _browser_get(f"http://localhost:{callback_port}/callback?{query}")
    with pytest.raises(LoginError, match=message):
        await login
    assert page.status_code == status


async def test_other_paths_and_methods_do_not_end_the_wait(callback_port, out) -> None:
    login = asyncio.create_task(_login(callback_port, "s", out=out, open_browser=lambda u: True))
    assert (await _browser_get(f"http://localhost:{callback_port}/favicon.ico")).status_code == 404
    async with httpx.AsyncClient(trust_env=False) as client:
        assert (await client.post(f"http://localhost:{callback_port}/callback?code=c&state=s")).status_code == 405
    await _browser_get(f"http://localhost:{callback_port}/callback?code=c&state=s")
    assert (await login).code == "c"


async def test_busy_port_names_the_port_and_suggests_paste(callback_port, out) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", callback_port))
        squatter.listen()
        with pytest.raises(LoginError, match=rf"port {callback_port}.*--paste"):
            await _login(callback_port, "s", out=out, open_browser=lambda u: True)


async def test_busy_port_with_paste_still_logs_in_by_paste(callback_port, out, pipe_input) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", callback_port))
        squatter.listen()
        pipe_input.write("http://localhost/callback?code=pasted&state=s\n")
        result = await _login(callback_port, "s", out=out, open_browser=lambda u: True, paste=True,
                              input_stream=pipe_input.reader)
    assert (result.code, result.source) == ("pasted", "paste")
    assert f"port {callback_port}" in out.text


async def test_paste_of_code_hash_state_wins_and_foreign_state_is_refused(callback_port, out, pipe_input) -> None:
    login = asyncio.create_task(_login(callback_port, "s", out=out, no_browser=True, paste=True,
                                       input_stream=pipe_input.reader))
    await asyncio.sleep(0.05)
    assert not login.done()  # waiting for input without blocking the loop
    pipe_input.write("\n")  # an empty line keeps waiting
    pipe_input.write("pasted#s\n")
    result = await login
    assert (result.code, result.state, result.source) == ("pasted", "s", "paste")

    with pytest.raises(LoginError, match="invalid state"):
        pipe_input.write("pasted#not-ours\n")
        await _login(callback_port, "s", out=out, no_browser=True, paste=True, input_stream=pipe_input.reader)


async def test_bare_code_paste_uses_our_state(callback_port, out, pipe_input) -> None:
    pipe_input.write("just-a-code\n")
    result = await _login(callback_port, "ours", out=out, no_browser=True, paste=True, input_stream=pipe_input.reader)
    assert (result.code, result.state) == ("just-a-code", "ours")


async def test_callback_still_wins_while_paste_prompt_waits(callback_port, out, pipe_input) -> None:
    login = asyncio.create_task(_login(callback_port, "s", out=out, no_browser=True, paste=True,
                                       input_stream=pipe_input.reader))
    await _browser_get(f"http://localhost:{callback_port}/callback?code=cb&state=s")
    assert (await login).source == "callback"


async def test_no_browser_prints_url_and_ssh_tunnel_hint_and_still_listens(callback_port, out) -> None:
    def must_not_open(url: str) -> bool:
        raise AssertionError("--no-browser opened a browser")

    login = asyncio.create_task(_login(callback_port, "s", out=out, no_browser=True, open_browser=must_not_open))
    await _browser_get(f"http://localhost:{callback_port}/callback?code=c&state=s")
    await login
    assert "http://auth.invalid/authorize?state=s" in out.text
    assert f"ssh -L {callback_port}:127.0.0.1:{callback_port} user@host" in out.text


async def test_browser_failure_falls_back_to_printed_instructions(callback_port, out) -> None:
    def broken(url: str) -> bool:
        raise RuntimeError("no display")

    login = asyncio.create_task(_login(callback_port, "s", out=out, open_browser=broken))
    await _browser_get(f"http://localhost:{callback_port}/callback?code=c&state=s")
    await login
    assert "Could not open a browser" in out.text and "ssh -L" in out.text


async def test_timeout_gives_up_with_a_clear_error(callback_port, out) -> None:
    with pytest.raises(LoginError, match="timed out"):
        await _login(callback_port, "s", out=out, open_browser=lambda u: True, timeout=0.3, progress_every=0.1)
    assert "left" in out.text  # the countdown was shown


async def test_delayed_paste_prompt_is_offered_to_an_interactive_input(callback_port, out, pipe_input) -> None:
    login = asyncio.create_task(_login(callback_port, "s", out=out, open_browser=lambda u: True,
                                       input_stream=pipe_input.reader, paste_after=0.1))
    await asyncio.sleep(0.3)
    assert "press Enter to keep waiting" in out.text
    pipe_input.write("http://localhost/cb?code=late&state=s\n")
    assert (await login).code == "late"


async def test_callback_server_close_releases_port(callback_port) -> None:
    server = CallbackServer(callback_port, "/callback", "s")
    await server.start()
    await server.close()
    again = CallbackServer(callback_port, "/callback", "s")
    await again.start()
    await again.close()
