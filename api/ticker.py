"""The in-process dispatcher: a ``dispatch.ticking.TickWorker`` run beside the API.

With the memory store (the embedded default) ``dispatch serve`` ticks in its
own process through an in-memory queue; with Redis it only serves unless
``--with-worker`` asks it to run a tick worker too (on the shared Redis
queue, beside any ``dispatch worker`` processes). The worker runs in a thread
of its own, so solving never blocks the event loop; every committed tick wakes
the long polls and route streams of this process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from api.changes import Changes
from api.metrics import Metrics
from dispatch.engine import Engine
from dispatch.ops import AlertChange, OpsConsole
from dispatch.requests import TickResult
from dispatch.ticking import MemoryTickQueue, TickQueue, TickWorker

__all__ = ["MetricsObserver", "Ticker"]

log = logging.getLogger(__name__)


class MetricsObserver:
    """Counts a worker's outcomes in the app's metrics and wakes waiters after a commit;
    with ``ops``, re-evaluates the community's alerts after each tick (in the worker's
    thread, off the request path) and counts them in the metrics too."""

    def __init__(
        self,
        metrics: Metrics,
        changes: Changes | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        routes: Changes | None = None,
        ops: OpsConsole | None = None,
    ) -> None:
        self.metrics = metrics
        self.changes = changes
        self.routes = routes
        self.loop = loop
        self.ops = ops

    def _alerts(self, community_id: str, evaluate: Callable[[], AlertChange | None]) -> None:
        """Run one alert evaluation; a failure is logged, never the worker's problem."""
        if self.ops is None:
            return
        try:
            change = evaluate()
        except Exception as exc:
            log.warning("alerts of %s not evaluated: %s", community_id, exc)
            return
        if change is not None:
            self.metrics.observe_alerts(change.raised, self.ops.book.active_counts())

    def started(self, community_id: str, delay_s: float) -> None:
        self.metrics.tick_start_delay.observe(delay_s)

    def ticked(self, result: TickResult) -> None:
        self.metrics.observe_tick(result)
        if self.loop is not None and not self.loop.is_closed():
            for waiters in (self.changes, self.routes):  # first: feeds and routes wait on it
                if waiters is not None:
                    asyncio.run_coroutine_threadsafe(waiters.notify(), self.loop)
        if self.ops is not None:
            ops = self.ops
            self._alerts(result.community_id, lambda: ops.after_tick(result))

    def tick_failed(self, community_id: str, error: BaseException) -> None:
        self.metrics.ticks.labels("failed").inc()
        if self.ops is not None:
            ops = self.ops
            self._alerts(community_id, lambda: ops.tick_failed(community_id, error))

    def lease_busy(self, community_id: str) -> None:
        self.metrics.ticks.labels("lease_busy").inc()

    def fenced(self, community_id: str) -> None:
        self.metrics.ticks.labels("fenced").inc()

    def raced(self, community_id: str) -> None:
        self.metrics.ticks.labels("raced").inc()

    def step_failed(self, error: BaseException) -> None:
        self.metrics.worker_step_failures.inc()


class Ticker:
    """Runs a tick worker in a background thread; ``run_due`` is one drained pass (tests)."""

    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        changes: Changes,
        owner: str,
        poll_s: float = 1.0,
        *,
        queue: TickQueue | None = None,
        concurrency: int = 1,
        route_changes: Changes | None = None,
        ops: OpsConsole | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.changes = changes
        self.owner = owner
        self.route_changes = route_changes
        self.observer = MetricsObserver(metrics, changes, routes=route_changes, ops=ops)
        self.worker = TickWorker(
            engine,
            queue or MemoryTickQueue(reclaim_idle_s=max(engine.settings.lease_ttl_s, 1.0)),
            owner,
            concurrency=concurrency,
            poll_s=poll_s,
            observer=self.observer,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def run_due(self) -> list[TickResult]:
        """Every due tick now, in this call (one failing community spares the others)."""
        results = await run_in_threadpool(self.worker.drain)
        if results:
            await self._notify()
        return results

    async def _notify(self) -> None:
        await self.changes.notify()
        if self.route_changes is not None:
            await self.route_changes.notify()

    async def worker_step(self) -> list[TickResult]:
        """One step of the worker: at most ``concurrency`` ticks (tests order steps with it)."""
        results = await run_in_threadpool(self.worker.step)
        if results:
            await self._notify()
        return results

    def start(self) -> None:
        """Start the worker thread (call from the app's event loop)."""
        self.observer.loop = asyncio.get_running_loop()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.worker.run, args=(self._stop,), name=f"ticker-{self.owner}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def stop(self) -> None:
        """Stop after the tick in progress (a lease is never held between ticks)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await run_in_threadpool(thread.join)
        await run_in_threadpool(self.worker.close)
