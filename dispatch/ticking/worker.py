"""The tick worker: takes due ticks from a ``TickQueue`` and runs the tick pipeline.

One loop per worker process (any number of processes on any number of
machines share one queue). Each step offers every due community, claims up to
``concurrency`` ticks and runs them in parallel threads, each under the
community's lease with a fencing token, then acknowledges them. A step that
fails on the store is logged, counted and retried with exponential backoff and
jitter; the loop only ends when asked to. ``health`` tells how long ago the
loop last completed a step (readiness fails past a threshold).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from dispatch.engine import Engine
from dispatch.errors import Conflict, LeaseLost, StoreUnavailable
from dispatch.model import Community
from dispatch.requests import TickResult
from dispatch.settings import EngineSettings
from dispatch.store.base import Fence
from dispatch.ticking.queue import TickClaim, TickQueue

__all__ = ["Backoff", "TickObserver", "TickWorker", "WorkerHealth", "tick_lease_s"]

log = logging.getLogger(__name__)


def tick_lease_s(settings: EngineSettings, community: Community) -> float:
    """How long a tick holds its community's lease: the setting, or longer when the
    community's budget needs it (twice the budget and 5 s to commit)."""
    return max(settings.lease_ttl_s, 2 * community.solver_budget_s + 5.0)


class TickObserver(Protocol):
    """Hooks for metrics: every outcome of a worker's steps."""

    def started(self, community_id: str, delay_s: float) -> None:
        """A tick starts ``delay_s`` after its community was offered (due)."""
        ...

    def ticked(self, result: TickResult) -> None: ...
    def tick_failed(self, community_id: str, error: BaseException) -> None: ...
    def lease_busy(self, community_id: str) -> None: ...
    def fenced(self, community_id: str) -> None: ...
    def raced(self, community_id: str) -> None:
        """A tick lost the version race on each of its bounded attempts."""
        ...

    def step_failed(self, error: BaseException) -> None: ...


class NullObserver:
    def started(self, community_id: str, delay_s: float) -> None:
        pass

    def ticked(self, result: TickResult) -> None:
        pass

    def tick_failed(self, community_id: str, error: BaseException) -> None:
        pass

    def lease_busy(self, community_id: str) -> None:
        pass

    def fenced(self, community_id: str) -> None:
        pass

    def raced(self, community_id: str) -> None:
        pass

    def step_failed(self, error: BaseException) -> None:
        pass


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter between ``low_s`` and ``high_s``."""

    low_s: float = 0.2
    high_s: float = 10.0

    def delay(self, failures: int, rng: random.Random) -> float:
        top = min(self.high_s, self.low_s * 2 ** max(0, failures - 1))
        return self.low_s + rng.random() * max(0.0, top - self.low_s)


@dataclass
class WorkerHealth:
    """What readiness and metrics read of a worker."""

    name: str
    started_at: float
    last_step_at: float | None = None  # the last step that reached the store and finished
    last_tick_at: float | None = None  # the last committed tick
    consecutive_failures: int = 0
    last_error: str | None = None
    ticks: int = 0
    failures: int = 0

    def stalled_s(self, now: float) -> float:
        """Seconds since the loop last completed a step (or since it started)."""
        return max(0.0, now - (self.last_step_at or self.started_at))


@dataclass
class TickWorker:
    """See the module docstring."""

    engine: Engine
    queue: TickQueue
    name: str
    concurrency: int = 1
    poll_s: float = 0.5
    observer: TickObserver = field(default_factory=NullObserver)
    backoff: Backoff = field(default_factory=Backoff)
    rng: random.Random = field(default_factory=random.Random)
    beat_every_s: float = 1.0
    communities_every_s: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 64:
            raise ValueError("concurrency must lie in [1, 64]")
        if not self.poll_s > 0:
            raise ValueError("poll_s must be positive")
        self._engine = self.engine
        self.health = WorkerHealth(self.name, self._engine.clock.now())
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"tick-{self.name}")
        self._last_beat: float | None = None
        self._retry: list[TickClaim] = []  # ticks to try again first (store down, lease busy)
        self._communities: list[tuple[str, float]] = []
        self._communities_at: float | None = None

    # ---- one step ---------------------------------------------------------------

    def step(self, block_s: float = 0.0) -> list[TickResult]:
        """Offer due communities, claim and run up to ``concurrency`` ticks; store errors
        propagate (``run`` retries them)."""
        engine = self._engine
        now = engine.clock.now()
        self.queue.offer(self._due_candidates(now), now)
        retry, self._retry = self._retry[: self.concurrency], self._retry[self.concurrency :]
        room = self.concurrency - len(retry)
        claims = retry + (self.queue.claim(self.name, room, now, block_s) if room else [])
        results: list[TickResult] = []
        if len(claims) == 1:
            outcome = self._run(claims[0])
            results += [outcome] if outcome is not None else []
        elif claims:
            for outcome in self._pool.map(self._run, claims):
                if outcome is not None:
                    results.append(outcome)
        now = engine.clock.now()
        self.health.last_step_at = now
        self.health.consecutive_failures = 0
        if results:
            self.health.last_tick_at = now
        if self._last_beat is None or now - self._last_beat >= self.beat_every_s:
            self.queue.beat(self.name, now)
            self._last_beat = now
        return results

    def _due_candidates(self, now: float) -> list[tuple[str, float]]:
        """Every community and its interval, read again every ``communities_every_s``
        (the list changes rarely; reading it each step costs every worker a pass)."""
        at = self._communities_at
        if at is None or not 0 <= now - at < self.communities_every_s:
            listed = self._engine.store.list_communities()
            self._communities = [(c.id, c.dispatch_interval_s) for c in listed]
            self._communities_at = now
        return self._communities

    def drain(self, max_steps: int = 10_000) -> list[TickResult]:
        """Steps until no tick is left to claim now (an in-process pass over every due
        community, the community list read afresh); store errors propagate."""
        self._communities_at = None
        out: list[TickResult] = []
        left: int | None = None
        for _ in range(max_steps):
            out += self.step()
            before, left = left, self.queue.pending()
            if left == 0 or (before is not None and left >= before):
                break
        return out

    def _run(self, claim: TickClaim) -> TickResult | None:
        """One claimed tick under the community's lease; acknowledged whatever happens,
        except when the store itself failed (the tick stays pending, reclaimed later)."""
        engine = self._engine
        cid = claim.community_id
        try:
            community = engine.store.get_community(cid)
            if community is None:  # deleted since it was offered
                self.queue.done(claim)
                return None
            now = engine.clock.now()
            token = engine.store.acquire_lease(
                cid, self.name, tick_lease_s(engine.settings, community), now
            )
            if token is None:
                self.observer.lease_busy(cid)
                if claim.reclaimed:
                    # Taken over from a silent worker that may have died mid-tick holding
                    # the lease: try again each step until the lease is free, rather than
                    # dropping the tick until the community's next due time.
                    self._retry.append(claim)
                else:  # another dispatcher is ticking it right now
                    self.queue.done(claim)
                return None
            if claim.offered_at is not None:
                self.observer.started(cid, max(0.0, now - claim.offered_at))
            try:
                result = engine.pipeline.run(community, now, fence=Fence(self.name, token))
            finally:
                engine.store.release_lease(cid, self.name)
        except LeaseLost:
            self.observer.fenced(cid)
            self._done_quietly(claim)
            return None
        except Conflict as exc:  # lost every bounded retry to concurrent writes: not a fault
            self.observer.raced(cid)
            log.warning(
                "tick of %s raced with writes on every attempt; next due time: %s", cid, exc
            )
            self._done_quietly(claim)
            return None
        except Exception as exc:
            self.health.failures += 1
            self.observer.tick_failed(cid, exc)
            if isinstance(exc, StoreUnavailable):
                log.warning("tick of %s: store unavailable (%s); retrying it", cid, exc)
                self._retry.append(claim)
                return None
            log.exception("tick of community %s failed", cid)
            self._done_quietly(claim)
            return None
        self.queue.done(claim)
        self.health.ticks += 1
        self.observer.ticked(result)
        return result

    def _done_quietly(self, claim: TickClaim) -> None:
        try:
            self.queue.done(claim)
        except Exception as exc:  # the store is down: the entry is reclaimed later
            log.warning("could not acknowledge the tick of %s: %s", claim.community_id, exc)

    # ---- the loop ------------------------------------------------------------------

    def run(self, stop: threading.Event, wait: Callable[[float], bool] | None = None) -> None:
        """Step until ``stop`` is set; never ends on its own. ``wait`` (default
        ``stop.wait``) pauses between steps and during backoff."""
        pause = wait or stop.wait
        log.info("tick worker %s started (concurrency %d)", self.name, self.concurrency)
        while not stop.is_set():
            try:
                results = self.step(block_s=0.0)
            except Exception as exc:
                h = self.health
                h.consecutive_failures += 1
                h.failures += 1
                h.last_error = f"{type(exc).__name__}: {exc}"
                self.observer.step_failed(exc)
                delay = self.backoff.delay(h.consecutive_failures, self.rng)
                log.warning(
                    "tick worker %s: step failed (%s, %d in a row); retrying in %.1f s",
                    self.name,
                    h.last_error,
                    h.consecutive_failures,
                    delay,
                )
                pause(delay)
                continue
            if not results:
                pause(self.poll_s)
        log.info("tick worker %s stopped", self.name)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
