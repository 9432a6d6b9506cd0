"""Keeping LiteLLM's Router in step with the accounts: one deployment per (pool entry, account).

The Router is rebuilt from the pool templates whenever the account store's generation changes (a
login, a removal, a disable) or the Router itself was replaced (LiteLLM's proxy rebuilds it on a
config reload). gateway/deployments.py says what a deployment looks like.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.deployments import expand
from gateway.logging_setup import GATEWAY_WIDE

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger("subgate")


@dataclass
class RouterSync:
    _synced: tuple[int, int] = (-1, -1)

    def invalidate(self) -> None:
        """The templates or settings changed: rebuild at the next sync whatever the accounts did."""
        self._synced = (-1, -1)

    def sync(self, rt: "Runtime") -> None:
        from gateway import litellm_app

        router = litellm_app.router()
        if router is None:
            return
        key = (id(router), rt.store.generation)
        if key == self._synced:
            return
        model_list = expand(rt.templates, rt.store.accounts(), rt.api_bases)
        litellm_app.replace_model_list(router, model_list)
        self._synced = key
        accounts = len(rt.store.accounts())
        log.info("router: %d deployment%s for %d account%s", len(model_list), "" if len(model_list) == 1 else "s",
                 accounts, "" if accounts == 1 else "s", extra=GATEWAY_WIDE)
