"""`python -m gateway doctor`: every way a fresh setup usually goes wrong, checked and explained.

Each check is a small function returning `Check`s, so a failure in one (a broken config) only skips
the checks that need its result. Output names sources and states, never values: no token, key or
Amp secret is ever printed, only where it comes from.
"""

from __future__ import annotations

import errno
import os
import shlex
import socket
import stat
import sys
import time
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

from custom_providers.registry import registry
from gateway.config import DEFAULT_CONFIG_PATH, ConfigError, GatewaySettings, check_start_rule, read_yaml, settings_from_yaml
from gateway.credential_files import fix_for, read_credential
from gateway.port_claim import serves_subgate

OK, WARN, FAIL = "OK", "WARN", "FAIL"
PINNED_LITELLM = "1.108.7"  # fallback when neither the installed metadata nor pyproject.toml can tell


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.name}: {self.message}"
        return f"{text}. Fix: {self.fix}" if self.fix else text


# ---- config ----------------------------------------------------------------------------------------


def load_for_doctor(path: str | os.PathLike[str], env: Mapping[str, str]) -> tuple[list[Check], GatewaySettings | None]:
    """The settings even when only the bind rule fails, so the remaining checks still run."""
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        if "not valid YAML" in str(exc) or "top level" in str(exc):
            return [Check(FAIL, "config", str(exc), "correct the YAML at the line named above")], None
        return [Check(FAIL, "config", str(exc), "pass --config PATH or set SUBGATE_CONFIG")], None
    try:
        settings = settings_from_yaml(data, config_path=str(path), env=env)
    except ConfigError as exc:
        # Retry on loopback: if that parses, the only problem is the bind rule, reported by check_bind.
        try:
            relaxed = settings_from_yaml(data, config_path=str(path), env={**env, "SUBGATE_HOST": "127.0.0.1"})
        except ConfigError:
            return [Check(FAIL, "config", f"{path}: {exc}", "correct the key named above")], None
        host = env.get("SUBGATE_HOST") or str((data.get("gateway") or {}).get("host") or relaxed.host)
        settings = replace(relaxed, host=host)
    models = [e for e in data.get("model_list") or [] if isinstance(e, dict)]
    return [Check(OK, "config", f"{path} parses ({len(models)} model entries)")], settings


def check_bind(settings: GatewaySettings) -> list[Check]:
    try:
        check_start_rule(settings)
    except ConfigError as exc:
        return [Check(FAIL, "bind", str(exc), "add a key under gateway.api-keys, or set gateway.host: 127.0.0.1")]
    if settings.is_loopback_bind:
        note = "client keys required" if settings.api_keys else "no client keys needed"
        return [Check(OK, "bind", f"{settings.host} is loopback ({note})")]
    return [Check(OK, "bind", f"{settings.host} is reachable from the network; {len(settings.api_keys)} client key(s) required")]


# ---- port ------------------------------------------------------------------------------------------


def check_port(settings: GatewaySettings, *, health_timeout: float = 2.0) -> list[Check]:
    host, port = settings.host, settings.port
    bind_host = "127.0.0.1" if host == "localhost" else host.strip("[]")
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is not "in use"
        sock.bind((bind_host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            if serves_subgate(host, port, health_timeout):
                return [Check(OK, "port", f"{host}:{port} is already served by a running subgate")]
            return [Check(FAIL, "port", f"{host}:{port} is in use by another program",
                          f"stop it (`lsof -i :{port}` shows which), or pick another gateway.port / `serve --port N`")]
        return [Check(FAIL, "port", f"cannot bind {host}:{port}: {exc.strerror or exc}",
                      "use an address of this machine (127.0.0.1 or 0.0.0.0) and a port above 1023")]
    finally:
        sock.close()
    return [Check(OK, "port", f"{host}:{port} is free")]


# ---- auth-dir and accounts -------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_auth_dir(settings: GatewaySettings) -> list[Check]:
    auth = settings.auth_path
    if not auth.is_dir():
        logins = " or ".join(f"`python -m gateway login {name}`" for name in registry.names())
        return [Check(WARN, "auth-dir", f"{auth} does not exist yet (created at the first login)", f"run {logins}")]
    out = []
    mode = _mode(auth)
    if mode & 0o077:
        out.append(Check(WARN, "auth-dir", f"{auth} has mode {mode:04o}; other users can list the account emails",
                         f"chmod 700 {shlex.quote(str(auth))}"))
    else:
        out.append(Check(OK, "auth-dir", f"{auth} (mode {mode:04o})"))
    files = sorted(p for p in auth.glob("*.json") if p.is_file() and not p.name.startswith("."))
    loose = [(p, _mode(p)) for p in files if _mode(p) & 0o077]
    if loose:
        names = ", ".join(f"{p.name} ({m:04o})" for p, m in loose)
        out.append(Check(FAIL, "credentials", f"readable by other users: {names}",
                         "chmod 600 " + " ".join(shlex.quote(str(p)) for p, _ in loose)))
    elif files:
        out.append(Check(OK, "credentials", f"{len(files)} file(s), all mode 0600 or stricter"))
    providers = list(registry.names())
    for path in files:
        _, problem = read_credential(path, providers)
        if problem:
            out.append(Check(FAIL, "credentials", f"{path.name} {problem}; the gateway leaves it out",
                             fix_for(path, providers)))
    return out


def _describe_expiry(ts: float | None) -> str:
    if ts is None:
        return "expiry unknown"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


@dataclass
class StoreView:
    """What doctor read from the shared store in one go: its health, credentials and blocks."""

    backend: Any
    health: Any
    blocks: dict[str, float]


def read_store(settings: GatewaySettings) -> StoreView:
    import asyncio

    from gateway.store import StoreUnavailable, open_store

    backend = open_store(settings.store, settings.auth_path)

    async def read() -> StoreView:
        try:
            health = await backend.health()
            blocks: dict[str, float] = {}
            if health.reachable:
                await backend.pull()
                try:
                    blocks = await backend.blocks()
                except StoreUnavailable:
                    pass
            return StoreView(backend, health, blocks)
        finally:
            await backend.aclose()

    return asyncio.run(read())


SLOW_STORE_MS = 50.0


def check_store(view: StoreView) -> list[Check]:
    """Reachable, which version, how long one round trip takes (every refresh and flush pays it)."""
    health = view.health
    if health.kind == "files":
        if not health.reachable:
            return []  # check_auth_dir already says what is wrong with auth-dir
        return [Check(OK, "store", f"auth-dir files in {health.where} (set gateway.store: redis://host:port/db "
                                   "to share accounts between hosts)")]
    if not health.reachable:
        return [Check(FAIL, "store", f"Redis at {health.where} is not reachable: {health.detail}",
                      "start Redis there, or correct gateway.store (or router_settings' redis_host/redis_port)")]
    latency = f"{health.latency_ms:.1f} ms round trip"
    if health.latency_ms is not None and health.latency_ms > SLOW_STORE_MS:
        return [Check(WARN, "store", f"Redis {health.version} at {health.where}: {latency}, slow for a shared lock",
                      "put Redis on the same network as the gateway hosts")]
    return [Check(OK, "store", f"Redis {health.version} at {health.where}, {latency}")]


def check_accounts(settings: GatewaySettings, view: StoreView | None = None) -> list[Check]:
    from gateway.quota_file import read_blocks
    from gateway.token_store import TokenStore

    async def never(_: str) -> dict[str, Any]:  # doctor reads; it never spends a refresh token
        raise RuntimeError("not used")

    names = registry.names()
    store = TokenStore(auth_dir=settings.auth_path, refreshers={name: never for name in names},
                       backend=view.backend if view is not None else None,
                       log_changes=False)  # the credentials check names broken files itself
    store.scan()
    accounts = store.accounts()
    where = view.health.where if view is not None else str(settings.auth_path)
    if not accounts:
        labels = " or ".join(kind.label for kind in registry.kinds())
        logins = " and/or ".join(f"`python -m gateway login {name}`" for name in names)
        return [Check(WARN, "accounts", f"no {labels} login in {where}", f"run {logins}")]
    blocks = view.blocks if view is not None else read_blocks(settings.auth_path)
    usable = {p: sum(1 for a in accounts if a.provider == p and a.usable) for p in names}
    out = []
    for acct in accounts:
        name = f"account {acct.provider} {acct.email}"
        plan = f", plan {acct.plan}" if acct.plan else ""
        login = f"`python -m gateway login {acct.provider}`"
        if acct.disabled:
            out.append(Check(OK, name, "disabled (left out of routing)"))
        elif acct.needs_login:
            status = WARN if usable[acct.provider] else FAIL
            out.append(Check(status, name, "needs-login: its refresh token was refused",
                             f"run {login}, or delete {shlex.quote(str(acct.path))}"))
        elif acct.expired(0) and not acct.refresh_token:
            status = WARN if usable[acct.provider] else FAIL
            out.append(Check(status, name, "token expired and no refresh token to renew it", f"run {login}"))
        else:
            if acct.expired(0):
                state = "ok: token expired, refreshes on next use"
            else:
                state = f"ok: token valid until {_describe_expiry(acct.expires_at)}"
            until = blocks.get(acct.id)
            if until and until > time.time():
                state += f"; rate-limited until {_describe_expiry(until)}"
            out.append(Check(OK, name, state + plan))
    return out


# ---- Amp and LiteLLM -------------------------------------------------------------------------------


def check_amp_secret(settings: GatewaySettings, env: Mapping[str, str]) -> list[Check]:
    """Which source the passthrough would use (amp/secret_source.py's precedence); the value is never shown."""
    from amp.secret_source import AmpSecretSource

    amp = settings.amp
    if not amp.upstream_url:
        return [Check(OK, "amp", "management passthrough disabled (amp.upstream-url is empty)")]
    if amp.upstream_api_key.strip():
        source = "the config key gateway.amp.upstream-api-key"
    elif env.get("AMP_API_KEY", "").strip():
        source = "the environment variable AMP_API_KEY"
    elif AmpSecretSource(lambda: replace(amp, upstream_api_key=""), environ={}).get():
        source = f"Amp's login file {amp.secrets_file}"
    else:
        return [Check(WARN, "amp", f"no Amp secret found; requests to {amp.upstream_url} go unauthenticated",
                      "run `amp login`, set AMP_API_KEY, or set gateway.amp.upstream-api-key")]
    return [Check(OK, "amp", f"upstream {amp.upstream_url}, secret from {source}")]


def pinned_litellm() -> str:
    requirements: list[str] = []
    try:
        requirements = metadata.requires("subgate") or []
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        if pyproject.is_file():
            import tomllib

            requirements = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    for req in requirements:
        name, sep, version = req.partition("==")
        if sep and name.split("[")[0].strip().lower() == "litellm":
            return version.split(";")[0].strip()
    return PINNED_LITELLM


def check_litellm(installed: Callable[[str], str] = metadata.version) -> list[Check]:
    pinned = pinned_litellm()
    fix = f"pip install 'litellm[proxy]=={pinned}'"
    try:
        version = installed("litellm")
    except metadata.PackageNotFoundError:
        return [Check(FAIL, "litellm", "not installed", fix)]
    if version != pinned:
        return [Check(FAIL, "litellm", f"{version} is installed; subgate is tested against {pinned} and uses its internals", fix)]
    return [Check(OK, "litellm", f"{version} (the pinned version)")]


# ---- all together ----------------------------------------------------------------------------------


def run_checks(
    config_path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    health_timeout: float = 2.0,
) -> list[Check]:
    env = os.environ if env is None else env
    path = config_path or env.get("SUBGATE_CONFIG") or DEFAULT_CONFIG_PATH
    checks, settings = load_for_doctor(path, env)
    if settings is not None:
        checks += check_bind(settings)
        checks += check_port(settings, health_timeout=health_timeout)
        checks += check_auth_dir(settings)
        view = read_store(settings)
        checks += check_store(view)
        if settings.auth_path.is_dir() and view.health.reachable:  # otherwise reported just above
            checks += check_accounts(settings, view)
        checks += check_amp_secret(settings, env)
    checks += check_litellm()
    return checks


def report(checks: list[Check], out: Any = None) -> int:
    """Print one line per check; exit code 1 when anything FAILed."""
    out = out or sys.stdout
    for check in checks:
        print(check.line(), file=out)
    failed = sum(1 for c in checks if c.status == FAIL)
    warned = sum(1 for c in checks if c.status == WARN)
    print(f"\n{failed} failed, {warned} warning(s), {len(checks) - failed - warned} ok", file=out)
    return 1 if failed else 0
