"""`python -m gateway ...`: logins, imports, the account table, client setup, doctor and `serve`.

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
from pathlib import Path
from typing import Any, Sequence

from custom_providers.provider import LoginOptions
from custom_providers.registry import Providers, registry
from gateway.config import ConfigError, load_settings
from gateway.credential_files import fix_for


def _aliases() -> dict[str, list[str]]:
    """CLIProxyAPI's `--<provider>-login` and `--<provider>-device-login` flags, per registered provider."""
    out: dict[str, list[str]] = {}
    for kind in registry.kinds():
        out[f"--{kind.name}-login"] = ["login", kind.name]
        if kind.device_login:
            out[f"--{kind.name}-device-login"] = ["login", kind.name, "--device"]
    return out


def _reference_flags() -> tuple[str, ...]:
    # Go's flag package takes `-flag` as well as `--flag`; CLIProxyAPI's docs use the single dash.
    return (*(flag[2:] for flag in _aliases()), "no-browser", "config")


def _normalise(argv: Sequence[str]) -> list[str]:
    """Map `-claude-login -no-browser -config x` (reference style) onto `--config x login claude --no-browser`.

    `--config` belongs to the top-level parser, so it is moved in front of the subcommand wherever it
    was written (argparse refuses it after `login claude`).
    """
    reference = _reference_flags()
    argv = ["--" + a.lstrip("-") if a.startswith("-") and a.lstrip("-").split("=")[0] in reference else a
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
    for flag, replacement in _aliases().items():
        if flag in rest:
            rest.remove(flag)
            return front + replacement + rest
    return front + rest


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gateway", description="subgate: accounts and setup")
    p.add_argument("--config", default=None, help="YAML config (default config/litellm.yaml or $SUBGATE_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    login = sub.add_parser("login", help="log in to a subscription in the browser (OAuth)")
    names = registry.names()
    login.add_argument("provider", choices=names)
    login.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    login.add_argument("--paste", action="store_true", help="ask for the redirect URL at once (headless)")
    device = ", ".join(k.name for k in registry.kinds() if k.device_login)
    login.add_argument("--device", action="store_true", help=f"{device} only: device-code login")
    login.add_argument("--timeout", type=float, default=None, help="seconds to wait (default 300)")

    tools = " or ".join(k.login_tool for k in registry.kinds() if k.login_tool)
    imp = sub.add_parser("import", help=f"reuse an existing {tools} login")
    imp.add_argument("provider", choices=names)
    imp.add_argument("--path", default=None, help="file to import (default: where that tool keeps its login)")
    imp.add_argument("--email", default=None, help="the account email, if the provider's profile lookup fails")

    sub.add_parser("accounts", help="show each account's state, plan, 5-hour and weekly usage, token expiry")

    factory = sub.add_parser("factory-config", help="add the gateway's models to Factory droid's ~/.factory/config.json")
    factory.add_argument("--port", type=int, default=None, help="gateway port in the base URLs (default from config: 8317)")
    factory.add_argument("--path", default=None, help="Factory config file (default ~/.factory/config.json)")
    factory.add_argument("--only", default=None, help="comma-separated model names (default: every explicit entry)")
    factory.add_argument("--dry-run", action="store_true", help="print the resulting JSON, write nothing")

    amp = sub.add_parser("amp-setup", help='point the Amp CLI at the gateway ("amp.url" in ~/.config/amp/settings.json)')
    amp.add_argument("--url", default=None, help="gateway URL (default http://localhost:<port from config>)")
    amp.add_argument("--path", default=None, help="Amp settings file (default ~/.config/amp/settings.json)")

    store = sub.add_parser("store", help="move accounts and statistics between auth-dir and the shared store (Redis)")
    store.add_argument("action", choices=["import", "export"],
                       help="import: auth-dir files into gateway.store; export: the store's accounts as files")
    store.add_argument("--from", dest="source", default=None, help="import: auth-dir to read (default: gateway.auth-dir)")
    store.add_argument("--to", dest="target", default=None, help="export: directory to write (default: gateway.auth-dir)")
    store.add_argument("--replace", action="store_true",
                       help="import: overwrite accounts the store already holds (their tokens may be newer)")

    sub.add_parser("doctor", help="check config, port, auth-dir permissions, accounts, Amp secret, LiteLLM version")
    # Only listed here for --help: main() hands `serve ...` to gateway.amp's own parser before parsing.
    sub.add_parser("serve", help="run the gateway (same as python -m gateway.amp; see `serve --help`)", add_help=False)
    return p


async def _stores() -> tuple[Any, Any, Providers]:
    """The accounts as the gateway sees them: auth-dir, or the Redis store named by the config."""
    from gateway.store import open_store
    from gateway.token_store import TokenStore

    settings = load_settings()
    providers = registry.configure(settings.providers)
    backend = open_store(settings.store, settings.auth_path)
    await backend.pull()
    store = TokenStore(auth_dir=settings.auth_path, refreshers={name: _no_refresh for name in providers.names()},
                       backend=backend, log_changes=False)  # `accounts` lists broken files itself
    store.scan()
    return settings, store, providers


async def _saved(store: Any) -> None:
    """Wait until a new login has reached the shared store (a Redis that is down keeps it spooled)."""
    await store.shared.settle()
    await store.shared.aclose()


async def _no_refresh(token: str) -> dict[str, Any]:  # the CLI never spends refresh tokens
    raise RuntimeError("not used")


async def _login(args: argparse.Namespace) -> int:
    settings, store, providers = await _stores()
    options = LoginOptions(no_browser=args.no_browser, paste=args.paste, device=args.device, timeout=args.timeout)
    cred = await providers[args.provider].login(options)
    path = store.save_credential(cred)
    await _saved(store)
    print(f"Authentication saved to {path if not settings.store else store.shared.where}")
    return 0


async def _import(args: argparse.Namespace) -> int:
    import httpx

    from custom_providers.credentials import parse_rfc3339
    from gateway.token_store import credential_filename

    settings, store, providers = await _stores()
    provider = providers[args.provider]
    for note in provider.import_notes(args.path, args.email):
        print(note)
    async with httpx.AsyncClient(timeout=30) as http:
        cred = await provider.import_login(args.path, http=http, email=args.email)
    existed = store.shared.read_credential(credential_filename(cred)) is not None
    path = store.save_credential(cred)
    await _saved(store)
    if settings.store:
        path = f"{credential_filename(cred)} in {store.shared.where}"
    verb = "Updated" if existed else "Imported"
    print(f"{verb} {args.provider} login for {cred.get('email')} into {path}")
    print(f"Token expires {_fmt_time(parse_rfc3339(cred.get('expired')))}; the gateway refreshes it by itself.")
    print(f"Note: {provider.login_tool} and subgate now share one refresh token; whichever refreshes second is logged out.")
    return 0


def _factory_config(args: argparse.Namespace) -> int:
    from gateway.config import read_yaml
    from gateway.deployments import pool_model_names
    from gateway.factory_config import DEFAULT_FACTORY_CONFIG, factory_entries, gateway_api_key, render, update_factory_config

    settings = load_settings()
    providers = registry.configure(settings.providers)
    templates = [e for e in read_yaml(settings.config_path).get("model_list") or [] if isinstance(e, dict)]
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    port = args.port or settings.port
    ours = factory_entries(templates, providers, port=port, api_key=gateway_api_key(settings.api_keys), only=only)
    target = os.path.expanduser(args.path or DEFAULT_FACTORY_CONFIG)
    result = update_factory_config(target, ours, dry_run=args.dry_run)
    pools = pool_model_names(templates, providers.names())
    counts = ", ".join(f"{sum(1 for e in ours if pools.get(e['model']) == p.name)} {p.model_family}" for p in providers)
    summary = (f"{len(ours)} subgate models ({counts}) on port {port} from "
               f"{settings.config_path}: {result.added} added, {result.updated} updated, {result.unchanged} unchanged; "
               f"{result.kept} other entries kept")
    if args.dry_run:
        sys.stdout.write(render(result.config))
        print(f"Dry run, {target} not written. {summary}", file=sys.stderr)
        return 0
    print(f"Wrote {target}: {summary}")
    if not settings.api_keys:
        print('api_key is "dummy-not-used": the gateway has no gateway.api-keys, so any key works on loopback.')
    print("In droid, pick them with /model (listed under custom models, names ending in [Proxy]).")
    return 0


def _amp_setup(args: argparse.Namespace) -> int:
    import json

    from amp.settings_file import AMP_URL_KEY, DEFAULT_AMP_SETTINGS, write_amp_url

    url = args.url or f"http://localhost:{load_settings().port}"
    target = os.path.expanduser(args.path or DEFAULT_AMP_SETTINGS)
    previous = None
    try:
        previous = json.loads(Path(target).read_text(encoding="utf-8")).get(AMP_URL_KEY)
    except (OSError, ValueError, AttributeError):
        pass  # missing or unreadable: write_amp_url creates it or explains what is wrong
    path = write_amp_url(url, target)
    if previous == url:
        print(f'{path} already has "{AMP_URL_KEY}": "{url}" (other settings untouched)')
    elif previous:
        print(f'Changed "{AMP_URL_KEY}" in {path} from {previous} to {url} (other settings kept)')
    else:
        print(f'Set "{AMP_URL_KEY}": "{url}" in {path} (other settings kept)')
    print(f"Alternative without the file: export AMP_URL={url}")
    print(AMP_BUILDS)
    return 0


# What each Amp build does with AMP_URL (README "Amp setup" has the evidence per npm version).
AMP_BUILDS = """
Which Amp builds run on your subscriptions:
  - Builds that call the model themselves (/api/provider/...), such as @sourcegraph/amp@0.0.1767830505-ga62310
    (January 2026), run on your Claude/ChatGPT accounts through this gateway.
  - Current builds (@ampcode/cli, mid-2026 on) run the model on ampcode.com over a WebSocket (/actors/...):
    the gateway only passes that through, and those turns are billed by Amp, not served by your subscriptions.
  Check after one turn: an access-log line for /api/provider/anthropic/v1/messages with your account means
  your subscription was used. To stay on it: npm install -g @sourcegraph/amp@0.0.1767830505-ga62310""".rstrip()


def _doctor() -> int:
    from gateway.doctor import report, run_checks

    return report(run_checks())


def _serve_argv(argv: Sequence[str]) -> list[str] | None:
    """`[--config X] serve ...` -> gateway.amp's arguments, or None when the command is not `serve`."""
    front: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--config" and i + 1 < len(argv):
            front += argv[i : i + 2]
            i += 2
        elif argv[i].startswith("--config="):
            front.append(argv[i])
            i += 1
        else:
            break
    if i < len(argv) and argv[i] == "serve":
        return front + list(argv[i + 1 :])
    return None


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    left = ts - time.time()
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
    if left <= 0:
        return f"{when} (expired)"
    hours = left / 3600
    return f"{when} (in {hours:.1f} h)" if hours < 48 else f"{when} (in {hours / 24:.1f} d)"


def _fmt_window(window: dict | None) -> str:
    """`42% (resets in 2.1 h)`, `~0% (...)` when estimated: the window reset since the last reading."""
    if not window:
        return "-"
    mark = "~" if window.get("estimated") else ""
    left = window.get("resets_in_seconds")
    when = ""
    if left is not None:
        when = f" (resets in {left / 3600:.1f} h)" if left < 48 * 3600 else f" (resets in {left / 86400:.1f} d)"
    return f"{mark}{window['used_percent']:g}%{when}"


async def _accounts() -> int:
    from gateway.headroom import HeadroomBook
    from gateway.store import StoreUnavailable

    settings, store, _ = await _stores()
    accounts = store.accounts()
    headroom = HeadroomBook()
    try:
        blocks = await store.shared.blocks()
        await headroom.sync(store.shared)
    except StoreUnavailable:
        blocks = {}
    await store.shared.aclose()
    broken = [f"Left out: credential file {name} {problem}. Fix: {fix_for(settings.auth_path / name, registry.names())}"
              for name, problem in sorted(store.problems.items())]
    if not accounts:
        logins = " or ".join(f"`python -m gateway login {name}`" for name in registry.names())
        where = store.shared.where if settings.store else settings.auth_path
        print(f"No accounts in {where}. Run {logins}.")
        print("\n".join(broken), end="\n" if broken else "")
        return 0
    rows = [("PROVIDER", "EMAIL", "STATE", "PLAN", "5-HOUR", "WEEKLY", "TOKEN EXPIRES")]
    for acct in accounts:
        state = acct.state
        until = blocks.get(acct.id)
        if state == "ok" and until and until > time.time():
            state = "blocked until " + time.strftime("%Y-%m-%d %H:%M", time.localtime(until))
        elif state == "ok" and acct.expired(0):
            state = "ok (token expired; refreshes on use)"
        limits = headroom.view(acct.id) or {}
        rows.append((acct.provider, acct.email, state, acct.plan or "-", _fmt_window(limits.get("five_hour")),
                     _fmt_window(limits.get("weekly")), _fmt_time(acct.expires_at)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(col.ljust(w) for col, w in zip(row, widths)).rstrip())
    print("\n".join(broken), end="\n" if broken else "")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = _normalise(sys.argv[1:] if argv is None else argv)
    serve = _serve_argv(argv)
    if serve is not None:
        from gateway.amp import main as serve_main

        return serve_main(serve, prog="python -m gateway serve")
    args = build_parser().parse_args(argv)
    if args.config:
        os.environ["SUBGATE_CONFIG"] = os.path.abspath(args.config)
    try:
        if args.command == "login":
            return asyncio.run(_login(args))
        if args.command == "import":
            return asyncio.run(_import(args))
        if args.command == "accounts":
            return asyncio.run(_accounts())
        if args.command == "store":
            from gateway.store.transfer import main as store_main

            return store_main(args)
        if args.command == "factory-config":
            return _factory_config(args)
        if args.command == "amp-setup":
            return _amp_setup(args)
        if args.command == "doctor":
            return _doctor()
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
