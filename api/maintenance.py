"""The background sweep of a server: event retention and idempotency expiry.

Runs every ``maintenance_every_s`` in the thread pool, never on a request; store
errors are logged and the loop goes on (the next sweep catches up). Several
servers on one Redis may all sweep: trimming is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from dispatch.engine import Engine
from dispatch.retention import Retention, SweepResult, sweep

__all__ = ["Janitor"]

log = logging.getLogger(__name__)


class Janitor:
    """Sweeps the engine's store every ``every_s`` seconds until stopped."""

    def __init__(self, engine: Callable[[], Engine | None], retention: Retention, every_s: float):
        self.engine = engine
        self.retention = retention
        self.every_s = every_s
        self.task: asyncio.Task[None] | None = None
        self.sweeps = 0

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="janitor")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def sweep_once(self) -> SweepResult | None:
        engine = self.engine()
        if engine is None:
            return None
        result = await run_in_threadpool(sweep, engine.store, self.retention, engine.clock.now())
        self.sweeps += 1
        if result.events or result.idempotency:
            log.info(
                "retention: trimmed %d events, forgot %d idempotency records",
                result.events,
                result.idempotency,
            )
        return result

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # a loop that talks to the store never ends silently
                log.exception("retention sweep failed; retrying in %.0f s", self.every_s)
            await asyncio.sleep(self.every_s)
