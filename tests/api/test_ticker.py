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
from dispatch.policies import RegretInsertionPolicy
from dispatch.requests import CommunitySpec, TickResult
from dispatch.store.base import Store
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


async def test_only_the_lease_holder_ticks(
    engine: Engine, api_store: Store, clock: ManualClock
) -> None:
    """Two dispatchers on one store: the second is skipped until the first lets go."""
    add_community(engine, "c1")
    first, second = ticker(engine, "first"), ticker(make_engine(api_store, clock), "second")
    done = await first.run_due()
    skipped = await second.run_due()
    assert not done[0].skipped and skipped[0].skipped
    await first.stop()  # releases the lease
    clock.advance(10)
    assert not (await second.run_due())[0].skipped


class _FlakyEngine(Engine):
    """Ticks of community "bad" crash."""

    def tick(self, community_id: str, *, owner: str | None = None) -> TickResult:
        if community_id == "bad":
            raise RuntimeError("solver exploded")
        return super().tick(community_id, owner=owner)


async def test_one_failing_community_spares_the_others(
    api_store: Store, clock: ManualClock
) -> None:
    """A crash in one community's tick is counted and logged; the others still tick."""
    settings = make_engine(api_store, clock).settings
    engine = _FlakyEngine(settings, api_store, clock, policy=RegretInsertionPolicy())
    add_community(engine, "bad")
    add_community(engine, "good")
    t = ticker(engine)
    assert [r.community_id for r in await t.run_due()] == ["good"]
    assert b'dispatch_ticks_total{outcome="failed"} 1.0' in t.metrics.render()


async def test_lifespan_starts_and_stops_the_ticker(engine: Engine, api_store: Store) -> None:
    """With ticking on, a community is dispatched without any request; shutdown frees the lease."""
    add_community(engine, "c1")
    app = create_app(ApiSettings(tick_enabled=True, instance_id="me"), engine=engine)
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
