"""A provider whose LiteLLM registration fails, for the start-up tests (named under gateway.provider-modules)."""

from __future__ import annotations

from tests.third_provider.provider import ParrotProvider


class BrokenProvider(ParrotProvider):
    name = "broken"

    def register_litellm(self) -> None:
        raise AttributeError("litellm has no attribute 'SomethingThisProviderNeeds'")


PROVIDER = BrokenProvider
