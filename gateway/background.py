"""The gateway's background loop: every few seconds it rescans auth-dir, reads the quota blocks and
usage snapshots other workers shared, applies YAML edits, refreshes tokens ahead of expiry and saves
usage. Shutdown flushes what the last requests recorded before it is saved.
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
        while True:
            try:
                rt.refresh_accounts(force=True)
                rt.quota.load_shared()
                rt.headroom.load_shared()
                rt.reload_config_if_changed()
                for acct in rt.store.due_for_refresh():
                    lead = rt.store.refresh_leads.get(acct.provider, 3600.0)
                    try:
                        await rt.store.refresh(acct, lead=lead)
                    except Exception as exc:  # one account's failure must not stop the loop
                        log.warning("background refresh of %s failed: %s", acct.email, type(exc).__name__)
                await self._save_usage(rt)
                await asyncio.to_thread(rt.headroom.save_if_dirty)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("account loop error")
            await asyncio.sleep(SCAN_INTERVAL)

    async def _save_usage(self, rt: "Runtime") -> None:
        from gateway.request_log import flush_parked

        flush_parked()
        snapshot = rt.usage.snapshot_if_due()
        if snapshot is not None:
            await asyncio.to_thread(rt.usage.write, snapshot)

    async def aclose(self, rt: "Runtime") -> None:
        from gateway import litellm_app, usage_workers
        from gateway.request_log import flush_parked

        if self._task is not None:
            self._task.cancel()
        await litellm_app.flush_success_events()  # usage of the last requests, before it is saved
        flush_parked(0)
        if usage_workers.enabled():
            usage_workers.fold_share(rt.settings.auth_path, rt.usage)
        else:
            rt.usage.dirty = True  # the loop may have taken its last snapshot and been cancelled mid-write
            rt.usage.save()
        rt.headroom.save_if_dirty()
