"""The work one quote or order does is counted, and it does not grow with the community."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from dispatch import Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.model import Order, Price, Worker, WorkerKind
from dispatch.policies import RegretInsertionPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest
from tests.dispatch.conftest import CENTER, offset
from tests.polling import until

READS = ("list_workers", "list_open_orders", "list_open_jobs", "get_plan")


class CountingStore(MemoryStore):
    """A memory store that counts the community-wide reads and the records they return."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.records = 0

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        if name not in READS:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            self.calls += 1
            self.records += len(out) if isinstance(out, list) else int(out is not None)
            return out

        return counted


def _community(couriers: int, orders: int) -> tuple[Engine, CountingStore, ManualClock]:
    store, clock = CountingStore(), ManualClock()
    counter = itertools.count()
    engine = Engine(
        EngineSettings(),
        store,
        clock,
        policy=RegretInsertionPolicy(),
        ids=lambda p: f"{p}{next(counter)}",
    )
    engine.upsert_community(CommunitySpec("c1", "Riverside", CENTER))
    rng = np.random.default_rng(3)
    now = clock.now()
    workers = []
    for i in range(couriers):
        p = offset(*rng.uniform(-2500, 2500, size=2) / 1.5)
        workers.append(
            Worker(f"w{i}", WorkerKind.COURIER, "c1", position=p, position_ts=now, cell=0)
        )
    store.put_workers(workers)
    engine.update_locations(
        [LocationUpdate(w.id, w.position.lat, w.position.lng) for w in workers if w.position]
    )
    price = Price(10.0, 1.0, 10.0, 1)
    batch = []
    for i in range(orders):
        a, b = rng.uniform(-2000, 2000, size=(2, 2))
        batch.append(Order(f"x{i}", "c1", offset(*a), offset(*b), now, now, now + 1800, price))
    if batch:
        store.write("c1", orders=batch, expect={o.id: 0 for o in batch})
    return engine, store, clock


def _work_per_quote(engine: Engine, store: CountingStore, n: int = 40) -> tuple[float, float]:
    """(community records read, index cells and workers visited) per quote, warm."""
    req = OrderRequest("c1", offset(300, -200), offset(-900, 700))
    engine.quote(req)  # the first quote builds the market state
    store.records = store.calls = 0
    state = engine.pricer.cached("c1")
    assert state is not None
    index = state.index
    index.visited = 0
    for i in range(n):
        pickup = offset(-1500 + 75 * i, 1200 - 60 * i)
        engine.quote(OrderRequest("c1", pickup, offset(-900, 700)))
    return store.records / n, index.visited / n


def test_quote_work_does_not_grow_with_couriers_or_open_orders() -> None:
    """An empty community and one with 500 couriers and 2 000 open orders read the same
    community records per quote (none, between refreshes) and visit a bounded index."""
    small = _community(couriers=1, orders=0)
    busy = _community(couriers=500, orders=2000)
    small_records, small_visits = _work_per_quote(small[0], small[1])
    busy_records, busy_visits = _work_per_quote(busy[0], busy[1])
    assert small_records == busy_records == 0
    assert busy_visits <= 150  # a few rings of cells and the workers in them, not 500
    assert small_visits <= 1


def test_order_creation_reads_no_community_wide_records() -> None:
    """Accepting an order in a busy community reads no list of workers or orders."""
    engine, store, _clock = _community(couriers=500, orders=2000)
    engine.quote(OrderRequest("c1", offset(0, 0), offset(800, 0)))
    store.records = store.calls = 0
    for i in range(20):
        engine.create_order(OrderRequest("c1", offset(10 * i, 0), offset(800, 0)))
    assert store.calls == 0 and store.records == 0


def test_the_state_is_recomputed_after_the_refresh_time() -> None:
    """Past ``surge_refresh_s`` the next quote reads the community again (once)."""
    engine, store, clock = _community(couriers=20, orders=30)
    engine.quote(OrderRequest("c1", offset(0, 0), offset(800, 0)))
    clock.advance(engine.settings.surge_refresh_s)
    store.records = store.calls = 0
    for _ in range(5):
        engine.quote(OrderRequest("c1", offset(0, 0), offset(800, 0)))
    assert store.calls == len(READS)  # workers, orders, jobs and the plan, each read once
    assert store.records >= 20 + 30


def test_background_pricing_serves_the_old_state_while_refreshing() -> None:
    """With background pricing a stale state is served at once and replaced shortly."""
    engine, _store, clock = _community(couriers=20, orders=30)
    engine.pricer.background = True
    engine.quote(OrderRequest("c1", offset(0, 0), offset(800, 0)))
    first = engine.pricer.cached("c1")
    assert first is not None
    clock.advance(engine.settings.surge_refresh_s + 1)
    engine.quote(OrderRequest("c1", offset(0, 0), offset(800, 0)))  # served from ``first``
    until(lambda: engine.pricer.cached("c1") is not first, 10, step_s=0.01)
    refreshed = engine.pricer.cached("c1")
    assert refreshed is not None and refreshed.ts == clock.now() > first.ts


def test_a_lone_worker_far_away_still_sets_the_eta() -> None:
    """Fewer workers than the lookup wants: all of them are candidates, wherever they are."""
    engine, _store, _clock = _community(couriers=1, orders=0)
    q = engine.quote(OrderRequest("c1", offset(0, 0), offset(800, 0)))
    assert 0 < q.eta_s < engine.get_community("c1").delivery_sla_s
