"""Tick workers: they run due ticks under leases, survive store errors, and share work."""

from __future__ import annotations

import itertools
import random
import threading
from typing import Any

import pytest

from dispatch import Conflict, Engine, EngineSettings, ManualClock, MemoryStore, StoreUnavailable
from dispatch.model import OrderState, WorkerKind
from dispatch.policies import RegretInsertionPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec
from dispatch.store.base import Store
from dispatch.ticking import Backoff, MemoryTickQueue, TickQueue, TickWorker
from dispatch.ticking.worker import tick_lease_s
from tests.dispatch.conftest import CENTER, offset


def _engine(store: Store, clock: ManualClock) -> Engine:
    counter = itertools.count()
    return Engine(
        EngineSettings(),
        store,
        clock,
        policy=RegretInsertionPolicy(),
        ids=lambda p: f"{p}{next(counter)}",
    )


def _community(engine: Engine, cid: str, couriers: int = 1, orders: int = 1) -> None:
    engine.upsert_community(
        CommunitySpec(cid, cid, CENTER, dispatch_interval_s=10.0, solver_budget_s=0.2)
    )
    for i in range(couriers):
        wid = f"{cid}-w{i}"
        engine.upsert_worker(WorkerSpec(wid, WorkerKind.COURIER, cid))
        p = offset(i * 100.0, 0)
        engine.update_location(LocationUpdate(wid, p.lat, p.lng))
    for i in range(orders):
        engine.create_order(OrderRequest(cid, offset(50, i * 10.0), offset(600, 0)))


def test_a_step_ticks_every_due_community_once_per_interval() -> None:
    """Due communities are offered, claimed and ticked; not again before their interval."""
    clock = ManualClock()
    engine = _engine(MemoryStore(), clock)
    for cid in ("a", "b", "c"):
        _community(engine, cid)
    worker = TickWorker(engine, MemoryTickQueue(), "w1", concurrency=2)
    ticked = worker.step() + worker.step()
    assert sorted(r.community_id for r in ticked) == ["a", "b", "c"]
    assert all(r.assigned == 1 for r in ticked)
    assert worker.step() == []  # nothing due yet
    clock.advance(10.0)
    assert len(worker.step() + worker.step()) == 3
    committed = [e for e in engine.events(limit=1000) if e.type == "plan.committed"]
    assert {e.data["dispatcher"] for e in committed} == {"w1"}
    assert worker.health.ticks == 6 and worker.health.last_tick_at == clock.now()


class _FlakyStore(MemoryStore):
    """A memory store whose community listing fails while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def list_communities(self) -> Any:
        if self.down:
            raise StoreUnavailable("Redis is unavailable: test")
        return super().list_communities()


def test_the_loop_survives_store_errors_and_backs_off() -> None:
    """Store errors are counted and retried with growing pauses; the loop never ends alone."""
    clock = ManualClock()
    store = _FlakyStore()
    engine = _engine(store, clock)
    _community(engine, "a")
    worker = TickWorker(
        engine, MemoryTickQueue(), "w1", backoff=Backoff(0.1, 5.0), rng=random.Random(1)
    )
    stop = threading.Event()
    pauses: list[float] = []

    def wait(seconds: float) -> bool:
        """Stands in for the pause: the store comes back after four failures."""
        pauses.append(seconds)
        clock.advance(seconds)
        if worker.health.consecutive_failures >= 4:
            store.down = False
        if worker.health.ticks >= 1:
            stop.set()
        return stop.is_set()

    store.down = True
    worker.run(stop, wait=wait)
    assert worker.health.failures == 4 and worker.health.consecutive_failures == 0
    assert worker.health.ticks == 1 and worker.health.last_error is not None
    assert "unavailable" in worker.health.last_error
    assert len(pauses) >= 4 and all(0.1 <= p <= 5.0 for p in pauses[:4])
    assert worker.health.stalled_s(clock.now()) <= worker.poll_s  # one pause since the tick


def test_a_community_held_by_another_dispatcher_is_left_to_it() -> None:
    """While another owner holds the lease, a worker does not tick the community."""
    clock = ManualClock()
    store = MemoryStore()
    engine = _engine(store, clock)
    _community(engine, "a")
    assert store.acquire_lease("a", "someone-else", 60.0, clock.now()) is not None
    worker = TickWorker(engine, MemoryTickQueue(), "w1")
    assert worker.step() == []
    assert engine.open_orders("a")[0].state == OrderState.PENDING
    assert worker.queue.pending() == 0  # acknowledged: offered again when next due


def test_two_workers_split_the_communities() -> None:
    """Two workers on one queue tick each community once between them."""
    clock = ManualClock()
    engine = _engine(MemoryStore(), clock)
    for i in range(6):
        _community(engine, f"c{i}")
    queue: TickQueue = MemoryTickQueue()
    a = TickWorker(engine, queue, "a", concurrency=2)
    b = TickWorker(engine, queue, "b", concurrency=2)
    done = []
    for _ in range(3):
        done += a.step() + b.step()
    assert sorted(r.community_id for r in done) == [f"c{i}" for i in range(6)]
    assert a.health.ticks > 0 and b.health.ticks > 0


def test_concurrency_is_bounded() -> None:
    """Concurrency outside [1, 64] is refused."""
    engine = _engine(MemoryStore(), ManualClock())
    with pytest.raises(ValueError, match="concurrency"):
        TickWorker(engine, MemoryTickQueue(), "w", concurrency=0)


class _Recorder:
    """Records start delays and lease refusals."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.busy = 0
        self.races = 0

    def started(self, community_id: str, delay_s: float) -> None:
        self.delays.append(delay_s)

    def ticked(self, result: object) -> None:
        pass

    def tick_failed(self, community_id: str, error: BaseException) -> None:
        pass

    def lease_busy(self, community_id: str) -> None:
        self.busy += 1

    def fenced(self, community_id: str) -> None:
        pass

    def raced(self, community_id: str) -> None:
        self.races += 1

    def step_failed(self, error: BaseException) -> None:
        pass


def test_a_dead_workers_tick_is_retried_until_its_lease_frees() -> None:
    """A tick reclaimed from a worker that died holding the lease is not dropped: the
    survivor retries it each step and ticks as soon as the lease expires."""
    clock = ManualClock()
    store = MemoryStore()
    engine = _engine(store, clock)
    _community(engine, "a")
    queue = MemoryTickQueue(reclaim_idle_s=5.0)
    queue.offer([("a", 10.0)], clock.now())
    (held,) = queue.claim("dead", 1, clock.now())  # claimed, then the worker died ...
    community = engine.get_community("a")
    lease_s = tick_lease_s(engine.settings, community)
    assert store.acquire_lease("a", "dead", lease_s, clock.now())  # ... holding the lease
    recorder = _Recorder()
    survivor = TickWorker(engine, queue, "survivor", observer=recorder)  # type: ignore[arg-type]
    clock.advance(5.0)
    assert survivor.step() == [] and recorder.busy == 1  # reclaimed, but the lease holds
    clock.advance(lease_s - 5.0 + 0.1)
    (result,) = survivor.step()
    assert result.community_id == "a" and result.assigned == 1
    assert queue.pending() == 0
    assert recorder.delays == [pytest.approx(lease_s + 0.1)]
    assert held.offered_at == pytest.approx(clock.now() - lease_s - 0.1)


def test_new_communities_are_seen_within_the_listing_period() -> None:
    """The community list is cached for ``communities_every_s``, then read again."""
    clock = ManualClock()
    engine = _engine(MemoryStore(), clock)
    _community(engine, "a")
    worker = TickWorker(engine, MemoryTickQueue(), "w1", communities_every_s=2.0)
    assert [r.community_id for r in worker.step()] == ["a"]
    _community(engine, "b")
    assert worker.step() == []  # not listed yet
    clock.advance(2.0)
    assert [r.community_id for r in worker.step()] == ["b"]


class _AlwaysRacing(MemoryStore):
    """Every plan commit loses a version race to a concurrent write."""

    def write(self, community_id: str, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("plan") is not None:
            raise Conflict("changed concurrently (test)")
        return super().write(community_id, **kwargs)


def test_a_tick_that_keeps_losing_races_is_counted_not_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Races lost on every bounded attempt are counted as raced and logged as a warning,
    never as an error or a failed tick; the tick is acknowledged."""
    clock = ManualClock()
    engine = _engine(_AlwaysRacing(), clock)
    _community(engine, "a")
    recorder = _Recorder()
    worker = TickWorker(engine, MemoryTickQueue(), "w1", observer=recorder)  # type: ignore[arg-type]
    with caplog.at_level("WARNING"):
        assert worker.step() == []
    assert recorder.races == 1 and worker.health.failures == 0
    assert worker.queue.pending() == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
