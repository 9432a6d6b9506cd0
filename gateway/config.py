"""The `gateway:` section of config/litellm.yaml as frozen dataclasses.

LiteLLM owns the rest of the YAML (model_list, router_settings, ...). This module is the only place
where the reference system's kebab-case keys become snake_case, where environment overrides are
applied, and where the "non-loopback bind needs api-keys" start rule lives. Provider blocks
(`gateway.<provider>:`) are taken for every provider in the registry (custom_providers/registry.py),
including those named under `gateway.provider-modules`, and validated by the provider's own settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

import yaml

from amp.localhost_guard import is_loopback_address
from amp.settings import AmpSettings, AmpSettingsError, amp_settings, parse_bool, snake_key
from custom_providers.errors import SettingsError
from custom_providers.registry import ProviderLoadError, registry


def _default_config_path() -> Path:
    """config/litellm.yaml of the checkout; when installed from a wheel (pipx), the copy it ships.

    pyproject.toml installs config/litellm.yaml as a data file (<prefix>/share/subgate/litellm.yaml), so the
    repo's file stays the only source of truth; the wheel's RECORD says where it landed (venv, --user, pipx).
    """
    checkout = Path(__file__).resolve().parent.parent / "config" / "litellm.yaml"
    if checkout.is_file():
        return checkout
    from importlib import metadata

    try:
        files = metadata.distribution("subgate").files or []
    except metadata.PackageNotFoundError:
        return checkout
    for file in files:
        if file.name == "litellm.yaml" and file.parts[-2:-1] == ("subgate",):
            installed = Path(str(file.locate())).resolve()
            if installed.is_file():
                return installed
    return checkout


DEFAULT_CONFIG_PATH = _default_config_path()
DEFAULT_PORT = 8317
DEFAULT_AUTH_DIR = "~/.cli-proxy-api"


class ConfigError(SettingsError):
    """The YAML or the environment describes a gateway that must not start."""


@dataclass(frozen=True)
class RemoteManagement:
    secret_key: str = ""
    allow_remote: bool = False
    disable_control_panel: bool = False


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    auth_dir: str = DEFAULT_AUTH_DIR
    api_keys: tuple[str, ...] = ()
    debug: bool = False
    logging_to_file: bool = False
    request_retry: int = 3
    routing_strategy: str = "headroom"  # measured against round-robin in tests/e2e/test_headroom.py
    max_body_mb: float = 32.0  # a Claude/Codex request with a few images stays well below
    shutdown_grace_seconds: float = 30.0
    # gateway.quota.soft-limit-percent: under `headroom`, new conversations leave an account this full
    soft_limit_percent: float = 90.0
    # Where shared state lives (gateway/store/): "" = auth-dir files, or redis://host:port/db.
    store: str = ""
    amp: AmpSettings = field(default_factory=AmpSettings)
    remote_management: RemoteManagement = field(default_factory=RemoteManagement)
    # provider name -> {snake_key: value}; each provider package validates its own keys.
    providers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # modules whose PROVIDER class is served besides the built-in ones
    provider_modules: tuple[str, ...] = ()
    config_path: str = str(DEFAULT_CONFIG_PATH)

    @property
    def auth_path(self) -> Path:
        return Path(self.auth_dir).expanduser()

    @property
    def is_loopback_bind(self) -> bool:
        return is_loopback_host(self.host)

    def provider(self, name: str) -> Mapping[str, Any]:
        return self.providers.get(name, {})


def is_loopback_host(host: str) -> bool:
    return host == "localhost" or is_loopback_address(host)


def _as_bool(value: Any, key: str) -> bool:
    try:
        return parse_bool(value, key)
    except AmpSettingsError as exc:
        raise ConfigError(str(exc)) from None


def _amp(section: Mapping[str, Any], flat: Mapping[str, Any], env: Mapping[str, str]) -> AmpSettings:
    try:
        return amp_settings(section, flat, env)
    except AmpSettingsError as exc:
        raise ConfigError(str(exc)) from None


def _as_int(value: Any, key: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a whole number, got {value!r}") from None


def _as_positive(value: Any, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not number > 0:
        raise ConfigError(f"{key.replace('_', '-')}: expected a number above 0, got {value!r}")
    return number


def _strings(value: Any, key: str, what: str) -> tuple[str, ...]:
    """A YAML list of strings (or one string), blanks dropped."""
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of {what}, got {value!r}")
    return tuple(str(item).strip() for item in value if str(item).strip())


def _keys(value: Any) -> tuple[str, ...]:
    return _strings(value, "api-keys", "strings")


def _provider_modules(value: Any) -> tuple[str, ...]:
    """Import each module named under provider-modules and register its PROVIDER class."""
    modules = _strings(value, "provider-modules", "module names")
    for module in modules:
        try:
            registry.load_module(module)
        except ProviderLoadError as exc:
            raise ConfigError(f"provider-modules: {exc}") from None
    return modules


def _providers(section: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in registry.names():
        values = {snake_key(k): v for k, v in (section.get(name) or {}).items()}
        prefix = f"SUBGATE_{name.upper()}_"
        for key, value in env.items():
            if key.startswith(prefix):
                values[key[len(prefix):].lower()] = value
        out[name] = values
    return out


ROUTING_STRATEGIES = ("round-robin", "fill-first", "headroom")


def _soft_limit(quota: Mapping[str, Any]) -> float:
    unknown = set(quota) - {"soft-limit-percent"}
    if unknown:
        raise ConfigError(f"gateway.quota: unknown key(s) {sorted(unknown)}; known: ['soft-limit-percent']")
    value = quota.get("soft-limit-percent", 90)
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"gateway.quota.soft-limit-percent must be a number, got {value!r}") from None
    if not 0 < percent <= 100:
        raise ConfigError(f"gateway.quota.soft-limit-percent must be above 0 and at most 100, got {value!r}")
    return percent


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def settings_from_yaml(
    data: Mapping[str, Any], *, config_path: str = "", env: Mapping[str, str] | None = None
) -> GatewaySettings:
    env = os.environ if env is None else env
    section = dict(data.get("gateway") or {})
    flat = {k: v for k, v in data.items() if isinstance(k, str) and k.startswith("amp-")}
    flat.update({k: v for k, v in section.items() if isinstance(k, str) and k.startswith("amp-")})
    amp_section = section.pop("amp", None) or {}
    for key in list(section):
        if key.startswith("amp-"):
            section.pop(key)
    rm = {snake_key(k): v for k, v in (section.pop("remote-management", None) or {}).items()}
    quota = section.pop("quota", None) or {}
    if not isinstance(quota, Mapping):
        raise ConfigError("gateway.quota must be a mapping (soft-limit-percent: 90)")
    modules = _provider_modules(section.pop("provider-modules", None))
    providers = _providers({p: section.pop(p, None) for p in registry.names()}, env)
    try:
        registry.configure(providers)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None

    s = GatewaySettings(config_path=config_path or str(DEFAULT_CONFIG_PATH))
    simple = {snake_key(k): v for k, v in section.items()}
    known = {f.name for f in fields(GatewaySettings)} - {"amp", "remote_management", "providers", "config_path",
                                                         "provider_modules", "soft_limit_percent"}
    unknown = set(simple) - known
    if unknown:  # named as the YAML spells them (api-keys), not as the code does
        written = sorted(str(k) for k in section if snake_key(k) in unknown)
        spelled = sorted({k.replace("_", "-") for k in known | {"amp", "remote_management", "quota", "provider_modules"}}
                         | set(registry.names()))
        raise ConfigError(f"gateway: unknown key(s) {written}; known: {spelled}")
    updates: dict[str, Any] = {}
    for key, value in simple.items():
        if key == "port" or key == "request_retry":
            updates[key] = _as_int(value, key)
        elif key in ("max_body_mb", "shutdown_grace_seconds"):
            updates[key] = _as_positive(value, key)
        elif key in ("debug", "logging_to_file"):
            updates[key] = _as_bool(value, key)
        elif key == "api_keys":
            updates[key] = _keys(value)
        elif value is not None:
            updates[key] = str(value)
    for key, env_name in (("host", "SUBGATE_HOST"), ("auth_dir", "SUBGATE_AUTH_DIR")):
        if env.get(env_name):
            updates[key] = env[env_name]
    if env.get("SUBGATE_PORT"):
        updates["port"] = _as_int(env["SUBGATE_PORT"], "SUBGATE_PORT")
    if env.get("SUBGATE_STORE") is not None:
        updates["store"] = env["SUBGATE_STORE"]
    updates["store"] = store_url(updates.get("store", ""), data.get("router_settings"), env)
    if updates.get("routing_strategy", "headroom") not in ROUTING_STRATEGIES:
        raise ConfigError(f"routing-strategy must be one of {', '.join(ROUTING_STRATEGIES)}")
    updates["soft_limit_percent"] = _soft_limit(quota)
    s = replace(
        s,
        **updates,
        amp=_amp(amp_section, flat, env),
        remote_management=RemoteManagement(
            secret_key=str(rm.get("secret_key") or ""),
            allow_remote=_as_bool(rm.get("allow_remote", False), "remote-management.allow-remote"),
            disable_control_panel=_as_bool(
                rm.get("disable_control_panel", False), "remote-management.disable-control-panel"
            ),
        ),
        providers=providers,
        provider_modules=modules,
    )
    check_start_rule(s)
    return s


def _env_value(value: Any, env: Mapping[str, str]) -> str:
    """LiteLLM's `os.environ/NAME` indirection, as router_settings uses it."""
    text = "" if value is None else str(value)
    return env.get(text[len("os.environ/"):], "") if text.startswith("os.environ/") else text


def store_url(configured: str, router_settings: Any, env: Mapping[str, str]) -> str:
    """gateway.store, else the Redis LiteLLM's router_settings already names, else "" (auth-dir files)."""
    url = _env_value(configured, env).strip()
    if not url and isinstance(router_settings, Mapping):
        url = _env_value(router_settings.get("redis_url"), env).strip()
        host = _env_value(router_settings.get("redis_host"), env).strip()
        if not url and host:
            port = _env_value(router_settings.get("redis_port"), env).strip() or "6379"
            password = _env_value(router_settings.get("redis_password"), env)
            auth = f":{quote(password, safe='')}@" if password else ""
            url = f"redis://{auth}{host}:{port}/0"
    if url in ("", "files", "auth-dir"):
        return ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"store: expected redis://host:port/db (or empty for auth-dir files), got {url!r}")
    return url


def check_start_rule(s: GatewaySettings) -> None:
    """A gateway reachable from the network with no client keys would hand out the subscriptions."""
    if not s.is_loopback_bind and not s.api_keys:
        raise ConfigError(
            f"refusing to listen on {s.host}: it is not a loopback address and gateway.api-keys is empty. "
            "Add at least one key under gateway.api-keys, or bind to 127.0.0.1."
        )
    if not 0 < s.port < 65536:
        raise ConfigError(f"port {s.port} is out of range")


def load_settings(path: str | os.PathLike[str] | None = None) -> GatewaySettings:
    path = path or os.environ.get("SUBGATE_CONFIG") or DEFAULT_CONFIG_PATH
    return settings_from_yaml(read_yaml(path), config_path=str(path))
