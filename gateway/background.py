"""The gateway's background loop: every few seconds it takes in what other workers and hosts shared
through the store (gateway/store/: accounts, quota blocks, usage snapshots), applies YAML edits,
refreshes tokens ahead of expiry and hands usage increments to the store. Shutdown flushes what the
last requests recorded before it is handed over.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger("subgate")

SCAN_INTERVAL = float(os.environ.get("SUBGATE_SCAN_INTERVAL", "5"))


@dataclass
class BackgroundTasks:
    _task: asyncio.Task | None = None

    def ensure_started(self, rt: "Runtime") -> None:
        if self._task is None or self._task.done():
            try:
                self._task = asyncio.get_running_loop().create_task(self._loop(rt), name="subgate-accounts")
            except RuntimeError:
                pass

    async def _loop(self, rt: "Runtime") -> None:
        if not rt.usage.started:  # under `litellm --config` nobody called Runtime.start()
            await rt.usage.start()
        while True:
            try:
                await rt.catch_up()
                rt.reload_config_if_changed()
                for acct in rt.store.due_for_refresh():
                    lead = rt.store.refresh_leads.get(acct.provider, 3600.0)
                    try:
                        await rt.store.refresh(acct, lead=lead)
                    except Exception as exc:  # one account's failure must not stop the loop
                        log.warning("background refresh of %s failed: %s", acct.email, type(exc).__name__)
                await self._save_usage(rt)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("account loop error")
            await asyncio.sleep(SCAN_INTERVAL)

    async def _save_usage(self, rt: "Runtime") -> None:
        from gateway.request_log import flush_parked

        flush_parked()
        await rt.usage.flush()

    async def aclose(self, rt: "Runtime") -> None:
        from gateway import litellm_app
        from gateway.request_log import flush_parked

        if self._task is not None:
            self._task.cancel()
            if self._task.get_loop() is asyncio.get_running_loop():
                await asyncio.wait([self._task])  # a usage hand-over it was making completes first
        await litellm_app.flush_success_events()  # usage of the last requests, before it is saved
        flush_parked(0)
        await rt.usage.flush(force=True)
        await rt.quota.sync()
        await rt.headroom.sync(rt.shared)
        await rt.shared.aclose()
