"""Which way an Amp model request goes: a local account, a mapped local model, or the Amp upstream.

Amp asks for the models it was built with (claude-opus-4-5-20251101, ...). When no local account serves a
name, `amp.model-mappings` can point it at one that does; failing that the request may fall back to the
Amp upstream, which spends the user's Amp credits. Lookups use the base name;
a thinking suffix `name(value)` rides along unless the mapping target brings its own.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Literal

from amp.settings import AmpSettings, ModelMapping

log = logging.getLogger(__name__)

Serves = Callable[[str], bool]
RouteKindName = Literal["local", "mapped", "upstream", "no_provider"]


def split_suffix(name: str) -> tuple[str, str]:
    """`gpt-5.2(xhigh)` -> (`gpt-5.2`, `xhigh`); without a closing `)` it is just a name."""
    if name.endswith(")"):
        i = name.rfind("(")
        if i > 0:
            return name[:i], name[i + 1 : -1]
    return name, ""


class ModelMapper:
    """Exact (case-insensitive) mappings first, then regexes in config order; targets must be served."""

    def __init__(self, mappings: Iterable[ModelMapping]) -> None:
        self._exact: dict[str, str] = {}
        self._regex: list[tuple[re.Pattern[str], str]] = []
        for mapping in mappings:
            source, target = mapping.source.strip(), mapping.target.strip()
            if not source or not target:
                log.warning("amp: model mapping %r -> %r skipped: both names are required", source, target)
                continue
            if mapping.regex:
                try:
                    self._regex.append((re.compile("(?i)" + source), target))
                except re.error as exc:
                    log.warning("amp: model mapping regex %r skipped: %s", source, exc)
                continue
            self._exact[source.lower()] = target

    def lookup(self, model: str) -> str:
        """The mapping target for `model` with the request's suffix applied, or "" (no serving check)."""
        base, suffix = split_suffix(model.strip())
        target = self._exact.get(base.strip().lower())
        if target is None:
            target = next((t for pattern, t in self._regex if pattern.search(base)), "")
        if not target:
            return ""
        target_base, target_suffix = split_suffix(target)
        if target_suffix or target.endswith("()"):
            return target if target_suffix else target_base
        return f"{target}({suffix})" if suffix else target

    def map(self, model: str, serves: Serves) -> str:
        """The target, or "" when there is none or no local account serves it (the mapping is ignored)."""
        target = self.lookup(model)
        if target and serves(split_suffix(target)[0]):
            return target
        return ""


@functools.lru_cache(maxsize=8)
def mapper_for(mappings: tuple[ModelMapping, ...]) -> ModelMapper:
    """Compiled once per distinct mapping set; settings are re-read per request."""
    return ModelMapper(mappings)


@dataclass(frozen=True)
class RouteChoice:
    kind: RouteKindName
    model: str  # the model to send: the mapping target when mapped, else the requested name


def choose_route(model: str, settings: AmpSettings, serves: Serves, *, upstream_available: bool) -> RouteChoice:
    """Default: local, mapping, upstream. `force_model_mappings`: mapping, local, upstream.

    Without an upstream (or with fallback off) an unserved model still goes to the local app, which
    answers with its usual unknown-model error.
    """
    base, _ = split_suffix(model)
    mapper = mapper_for(tuple(settings.model_mappings))
    steps = ("mapped", "local") if settings.force_model_mappings else ("local", "mapped")
    for step in steps:
        if step == "local" and serves(base):
            return RouteChoice("local", model)
        if step == "mapped":
            target = mapper.map(model, serves)
            if target:
                return RouteChoice("mapped", target)
    if settings.fallback_to_upstream and upstream_available:
        return RouteChoice("upstream", model)
    return RouteChoice("no_provider", model)
