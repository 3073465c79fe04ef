"""The background ticker: due intervals on the engine clock, leases, failures, start and stop."""

from __future__ import annotations

import anyio
import httpx
import pytest

from api.app import create_app
from api.changes import Changes
from api.metrics import Metrics
from api.settings import ApiSettings
from api.ticker import Ticker
from dispatch import Engine, ManualClock
from dispatch.model import LatLng
from dispatch.requests import CommunitySpec, OrderRequest
from dispatch.store.base import Store
from dispatch.tick import TickProblem
from dispatch.ticking import MemoryTickQueue
from solver import RoutingResult, solve_regret_insertion
from tests.api.conftest import CENTER, make_engine

pytestmark = pytest.mark.anyio


def add_community(engine: Engine, community_id: str, interval_s: float = 10.0) -> None:
    engine.upsert_community(
        CommunitySpec(
            community_id,
            community_id,
            LatLng(CENTER["lat"], CENTER["lng"]),
            dispatch_interval_s=interval_s,
        )
    )


def ticker(engine: Engine, owner: str = "a") -> Ticker:
    return Ticker(engine, Metrics(lambda: engine), Changes(), owner)


async def test_communities_tick_when_their_interval_has_passed(
    engine: Engine, clock: ManualClock
) -> None:
    """First pass ticks all; nothing until each interval passes on the engine clock."""
    add_community(engine, "c1", 10)
    add_community(engine, "c2", 30)
    t = ticker(engine)
    assert sorted(r.community_id for r in await t.run_due()) == ["c1", "c2"]
    assert await t.run_due() == []
    clock.advance(10)
    assert [r.community_id for r in await t.run_due()] == ["c1"]
    clock.advance(20)
    assert sorted(r.community_id for r in await t.run_due()) == ["c1", "c2"]
    assert engine.plan("c1").version == 3


async def test_two_tickers_on_one_queue_tick_each_community_once(
    engine: Engine, api_store: Store, clock: ManualClock
) -> None:
    """Two dispatchers sharing a queue split the due ticks; a lease held elsewhere is left."""
    add_community(engine, "c1")
    add_community(engine, "c2")
    queue = MemoryTickQueue()
    first = Ticker(engine, Metrics(lambda: engine), Changes(), "first", queue=queue)
    other = make_engine(api_store, clock)
    second = Ticker(other, Metrics(lambda: other), Changes(), "second", queue=queue)
    done = await first.worker_step() + await second.worker_step()
    done += await first.worker_step() + await second.worker_step()
    assert sorted(r.community_id for r in done) == ["c1", "c2"]
    committed = [e for e in engine.events(limit=1000) if e.type == "plan.committed"]
    assert {e.data["dispatcher"] for e in committed} <= {"first", "second"}
    clock.advance(10)
    assert api_store.acquire_lease("c1", "elsewhere", 60.0, clock.now()) is not None
    again = await first.run_due()
    assert [r.community_id for r in again] == ["c2"]  # c1 is being ticked elsewhere
    assert b'dispatch_ticks_total{outcome="lease_busy"} 1.0' in first.metrics.render()


class _Exploding:
    """Plans like regret insertion, except in community "bad", where it crashes."""

    name = "exploding"
    orders_per_trip: int | None = None
    tick_on_arrival = False

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        if any(o.community_id == "bad" for o in tick.orders):
            raise RuntimeError("solver exploded")
        return solve_regret_insertion(tick.problem)


async def test_one_failing_community_spares_the_others(
    api_store: Store, clock: ManualClock
) -> None:
    """A crash in one community's tick is counted and logged; the others still tick."""
    settings = make_engine(api_store, clock).settings
    engine = Engine(settings, api_store, clock, policy=_Exploding())
    add_community(engine, "bad")
    add_community(engine, "good")
    point = LatLng(CENTER["lat"], CENTER["lng"])
    engine.create_order(OrderRequest("bad", point, point))
    t = ticker(engine)
    assert [r.community_id for r in await t.run_due()] == ["good"]
    assert b'dispatch_ticks_total{outcome="failed"} 1.0' in t.metrics.render()


async def test_lifespan_starts_and_stops_the_ticker(engine: Engine, api_store: Store) -> None:
    """With ticking on, a community is dispatched without any request; shutdown frees the lease."""
    add_community(engine, "c1")
    settings = ApiSettings(tick_enabled=True, with_worker=True, instance_id="me")
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        running: Ticker = app.state.ticker
        assert running.running
        with anyio.fail_after(20):
            while engine.plan("c1").version == 0:
                await app.state.changes.wait(app.state.changes.generation, 1.0)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a") as c:
            assert (await c.get("/healthz")).status_code == 200
    assert not running.running
    assert api_store.acquire_lease("c1", "someone-else", 30.0, engine.clock.now())


async def test_serve_ticks_with_redis_only_when_asked(engine: Engine, api_store: Store) -> None:
    """With the Redis store a server only serves unless with_worker; memory always ticks."""
    app = create_app(ApiSettings(tick_enabled=True), engine=engine)
    async with app.router.lifespan_context(app):
        is_redis = type(api_store).__name__ == "RedisStore"
        assert (app.state.ticker is None) == is_redis


async def test_readiness_fails_when_the_dispatcher_stalls(
    engine: Engine, clock: ManualClock
) -> None:
    """/readyz reports the dispatcher's age and answers 503 past the stall threshold."""
    add_community(engine, "c1")
    settings = ApiSettings(tick_enabled=True, with_worker=True, stall_after_s=30.0)
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        t: Ticker = app.state.ticker
        await t.stop()  # a dispatcher that stopped stepping
        await t.run_due()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a") as c:
            ready = await c.get("/readyz")
            assert ready.status_code == 200 and ready.json()["dispatcher_age_s"] == 0.0
            clock.advance(31.0)
            stalled = await c.get("/readyz")
            assert stalled.status_code == 503
            assert "no dispatcher completed a step for 31 s" in stalled.json()["detail"]
            metrics = (await c.get("/metrics")).text
            assert "dispatch_dispatcher_age_seconds 31.0" in metrics
