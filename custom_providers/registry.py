"""The providers the gateway serves: a registry of Provider classes, and the configured set built from it.

`registry` holds the built-in providers (Claude and Codex). Another backend is added by registering its
class, from code (`registry.register(MyProvider)`) or from the YAML (`gateway.provider-modules:` names
modules whose `PROVIDER` attribute is the class). `registry.configure(...)` builds one instance per
provider from its `gateway.<name>:` block; the gateway iterates that set and never names a provider.
"""

from __future__ import annotations

import importlib
from typing import Any, Iterable, Iterator, Mapping

from custom_providers.claude.provider import ClaudeProvider
from custom_providers.codex.provider import CodexProvider
from custom_providers.provider import Provider


class ProviderLoadError(ValueError):
    """A module named under gateway.provider-modules does not provide a Provider."""


class Providers:
    """The configured providers of one gateway, by name (iteration keeps registration order)."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self._by_name = {p.name: p for p in providers}

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Provider:
        return self._by_name[name]

    def get(self, name: str | None) -> Provider | None:
        return self._by_name.get(name or "")

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def named(self, name: str) -> Provider | None:
        """By its name or one of its aliases (case-insensitive), as the management API accepts them."""
        wanted = name.strip().lower()
        for provider in self:
            if wanted == provider.name or wanted in provider.aliases:
                return provider
        return None

    def api_bases(self) -> dict[str, str]:
        return {p.name: p.api_base for p in self}


class Registry:
    def __init__(self, kinds: Iterable[type[Provider]] = ()) -> None:
        self._kinds: dict[str, type[Provider]] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: type[Provider]) -> type[Provider]:
        """Add (or replace) a provider class; usable as a class decorator."""
        if not (isinstance(kind, type) and issubclass(kind, Provider)) or not kind.name:
            raise ProviderLoadError(f"{kind!r} is not a Provider subclass with a name")
        self._kinds[kind.name] = kind
        return kind

    def unregister(self, name: str) -> None:
        self._kinds.pop(name, None)

    def load_module(self, module: str) -> type[Provider]:
        """Import `module` and register its `PROVIDER` class (gateway.provider-modules)."""
        try:
            loaded = importlib.import_module(module)
        except ImportError as exc:
            raise ProviderLoadError(f"provider module {module!r} cannot be imported: {exc}") from None
        kind = getattr(loaded, "PROVIDER", None)
        if kind is None:
            raise ProviderLoadError(f"provider module {module!r} has no PROVIDER class")
        return self.register(kind)

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def kinds(self) -> tuple[type[Provider], ...]:
        return tuple(self._kinds.values())

    def configure(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Providers:
        """One instance per registered provider, with its `gateway.<name>:` settings applied."""
        overrides = overrides or {}
        return Providers(kind.from_overrides(overrides.get(name)) for name, kind in self._kinds.items())


registry = Registry([ClaudeProvider, CodexProvider])
