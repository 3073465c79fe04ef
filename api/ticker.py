"""The background dispatcher: ticks each community every dispatch interval.

Each community is ticked when its ``dispatch_interval_s`` has passed on the
engine's clock. Ticks carry this process's ``owner`` name, so with a shared
Redis store only the holder of a community's lease solves it (the others get a
skipped result and try again next interval). Stopping releases held leases, so
another process takes over at once instead of after the lease's time to live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.concurrency import run_in_threadpool

from api.changes import Changes
from api.metrics import Metrics
from dispatch.engine import Engine
from dispatch.requests import TickResult

log = logging.getLogger(__name__)


class Ticker:
    """Runs due ticks; ``run`` loops until ``stop``; ``run_due`` is one pass (tests call it)."""

    def __init__(
        self, engine: Engine, metrics: Metrics, changes: Changes, owner: str, poll_s: float = 1.0
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.changes = changes
        self.owner = owner
        self.poll_s = poll_s
        self._due: dict[str, float] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_due(self) -> list[TickResult]:
        """Tick every community whose interval has passed; one failure spares the others."""
        engine = self.engine
        results = []
        for community in await run_in_threadpool(engine.list_communities):
            now = engine.clock.now()
            if self._due.get(community.id, now) > now:
                continue
            self._due[community.id] = now + community.dispatch_interval_s
            try:
                result = await run_in_threadpool(engine.tick, community.id, owner=self.owner)
            except Exception:
                self.metrics.ticks.labels("failed").inc()
                log.exception("tick of community %s failed", community.id)
                continue
            self.metrics.observe_tick(result)
            results.append(result)
        if any(not r.skipped for r in results):
            await self.changes.notify()
        return results

    async def run(self) -> None:
        """Loop until ``stop`` is called."""
        while not self._stop.is_set():
            await self.run_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_s)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.run(), name=f"ticker-{self.owner}")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop after the tick in progress, then give up this process's leases."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        for community_id in list(self._due):
            try:
                await run_in_threadpool(self.engine.store.release_lease, community_id, self.owner)
            except Exception:  # shutting down: a lease left behind just expires
                log.warning("could not release the lease of %s", community_id)
