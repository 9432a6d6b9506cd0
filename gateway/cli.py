"""`python -m gateway ...`: logins, imports and the account table.

Also accepts CLIProxyAPI's flags (`--claude-login`, `--codex-login`, `--no-browser`) for muscle
memory. The OAuth flows live in custom_providers; this module only parses arguments, runs them and
saves the returned credential through the token store (atomic, 0600).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any, Sequence

from gateway.config import ConfigError, load_settings

PROVIDERS = ("claude", "codex")

_ALIASES = {"--claude-login": ["login", "claude"], "--codex-login": ["login", "codex"]}
# Go's flag package takes `-flag` as well as `--flag`; CLIProxyAPI's docs use the single dash.
_REFERENCE_FLAGS = ("claude-login", "codex-login", "codex-device-login", "no-browser", "config")


def _normalise(argv: Sequence[str]) -> list[str]:
    """Map `-claude-login -no-browser -config x` (reference style) onto `--config x login claude --no-browser`.

    `--config` belongs to the top-level parser, so it is moved in front of the subcommand wherever it
    was written (argparse refuses it after `login claude`).
    """
    argv = ["--" + a.lstrip("-") if a.startswith("-") and a.lstrip("-").split("=")[0] in _REFERENCE_FLAGS else a
            for a in argv]
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config" and i + 1 < len(argv):
            front += argv[i : i + 2]
            i += 2
            continue
        (front if arg.startswith("--config=") else rest).append(arg)
        i += 1
    for flag, replacement in _ALIASES.items():
        if flag in rest:
            rest.remove(flag)
            return front + replacement + rest
    if "--codex-device-login" in rest:
        rest.remove("--codex-device-login")
        return front + ["login", "codex", "--device", *rest]
    return front + rest


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gateway", description="subgate: accounts and setup")
    p.add_argument("--config", default=None, help="YAML config (default config/litellm.yaml or $SUBGATE_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    login = sub.add_parser("login", help="log in to a subscription in the browser (OAuth)")
    login.add_argument("provider", choices=PROVIDERS)
    login.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    login.add_argument("--paste", action="store_true", help="ask for the redirect URL at once (headless)")
    login.add_argument("--device", action="store_true", help="codex only: device-code login")
    login.add_argument("--timeout", type=float, default=None, help="seconds to wait (default 300)")

    imp = sub.add_parser("import", help="reuse an existing Claude Code or Codex CLI login")
    imp.add_argument("provider", choices=PROVIDERS)
    imp.add_argument("--path", default=None, help="file to import (default ~/.claude/.credentials.json or ~/.codex/auth.json)")
    imp.add_argument("--email", default=None, help="claude only: the account email, if the profile lookup fails")

    sub.add_parser("accounts", help="show each account's state, plan and token expiry")
    return p


def _stores() -> tuple[Any, Any, Any]:
    from custom_providers.claude.settings import claude_settings
    from custom_providers.codex.settings import codex_settings
    from gateway.token_store import TokenStore

    settings = load_settings()
    store = TokenStore(auth_dir=settings.auth_path, refreshers={"claude": _no_refresh, "codex": _no_refresh})
    store.scan()
    return settings, store, (claude_settings(settings.provider("claude")), codex_settings(settings.provider("codex")))


async def _no_refresh(token: str) -> dict[str, Any]:  # the CLI never spends refresh tokens
    raise RuntimeError("not used")


async def _login(args: argparse.Namespace) -> int:
    settings, store, (claude, codex) = _stores()
    if args.provider == "claude":
        from custom_providers.claude.oauth import login

        kwargs: dict[str, Any] = {"no_browser": args.no_browser, "paste": args.paste}
        if args.timeout:
            kwargs["timeout"] = args.timeout
        cred = await login(claude, **kwargs)
    else:
        from custom_providers.codex.oauth import login as codex_login

        cred = await codex_login(codex, no_browser=args.no_browser, paste=args.paste, device=args.device, timeout=args.timeout)
    path = store.save_credential(cred)
    print(f"Authentication saved to {path}")
    return 0


async def _import(args: argparse.Namespace) -> int:
    import httpx

    settings, store, (claude, codex) = _stores()
    if args.provider == "claude":
        from custom_providers.claude.login_import import import_claude_code_login

        async with httpx.AsyncClient(timeout=30) as http:
            cred = await import_claude_code_login(args.path, settings=claude, http=http, email=args.email)
    else:
        from custom_providers.codex.login_import import import_codex_cli_login

        cred = import_codex_cli_login(args.path, settings=codex)
    path = store.save_credential(cred)
    print(f"Imported {args.provider} login for {cred.get('email')} into {path}")
    return 0


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    left = ts - time.time()
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
    if left <= 0:
        return f"{when} (expired)"
    hours = left / 3600
    return f"{when} (in {hours:.1f} h)" if hours < 48 else f"{when} (in {hours / 24:.1f} d)"


def _accounts() -> int:
    from gateway.quota_file import read_blocks

    settings, store, _ = _stores()
    accounts = store.accounts()
    if not accounts:
        print(f"No accounts in {settings.auth_path}. Run `python -m gateway login claude` or `... login codex`.")
        return 0
    blocks = read_blocks(settings.auth_path)
    rows = [("PROVIDER", "EMAIL", "STATE", "PLAN", "TOKEN EXPIRES")]
    for acct in accounts:
        state = acct.state
        until = blocks.get(acct.id)
        if state == "ok" and until and until > time.time():
            state = "blocked until " + time.strftime("%Y-%m-%d %H:%M", time.localtime(until))
        elif state == "ok" and acct.expired(0):
            state = "ok (token expired; refreshes on use)"
        rows.append((acct.provider, acct.email, state, acct.plan or "-", _fmt_time(acct.expires_at)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(col.ljust(w) for col, w in zip(row, widths)).rstrip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_normalise(sys.argv[1:] if argv is None else argv))
    if args.config:
        os.environ["SUBGATE_CONFIG"] = os.path.abspath(args.config)
    try:
        if args.command == "login":
            return asyncio.run(_login(args))
        if args.command == "import":
            return asyncio.run(_import(args))
        if args.command == "accounts":
            return _accounts()
    except ConfigError as exc:
        print(f"subgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    except Exception as exc:  # a login or import failure: the message says what to do, no traceback
        from gateway.errors import GatewayError

        if isinstance(exc, (GatewayError, OSError, ValueError)):
            print(f"subgate: {exc}", file=sys.stderr)
            return 1
        raise
    return 2
