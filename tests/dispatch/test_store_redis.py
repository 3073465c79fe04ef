"""Redis-only guarantees: a restarted engine or server loses nothing acknowledged."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dispatch import Engine, EngineSettings, ManualClock
from dispatch.model import LatLng, OrderState, WorkerKind
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec
from dispatch.store.redis import RedisStore
from solver.routing import RoutingParams
from tests.dispatch.conftest import CENTER, offset
from tests.redis_server import RedisServer, find_redis_server


@pytest.fixture
def durable_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private server with the append-only file fsynced on every write."""
    server = RedisServer(find_redis_server(), tmp_path, appendonly=True).start()
    try:
        yield server
    finally:
        server.stop()


def _engine(url: str, clock: ManualClock, start: int = 0) -> tuple[Engine, RedisStore]:
    store = RedisStore(url, prefix="restart")
    counter = itertools.count(start)
    engine = Engine(
        EngineSettings(),
        store,
        clock,
        ids=lambda p: f"{p}{next(counter)}",
        routing_params=RoutingParams(use_vroom=False, isolate=False),
    )
    return engine, store


def test_restart_keeps_everything_acknowledged(durable_server: RedisServer) -> None:
    """New engine, then a restarted redis-server: orders, states, plan, events, keys survive."""
    clock = ManualClock()
    engine, store = _engine(durable_server.url, clock)
    engine.upsert_community(CommunitySpec("c1", "x", CENTER, solver_budget_s=0.2))
    engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1"))
    p = offset(0, 0)
    engine.update_location(LocationUpdate("w1", p.lat, p.lng))
    orders = [
        engine.create_order(
            OrderRequest("c1", offset(100, 0), offset(600, 0)), idempotency_key=f"k{i}"
        )
        for i in range(3)
    ]
    engine.tick("c1")
    engine.order_event(orders[0].id, "picked_up", "w1")
    seq = engine.last_seq()
    store.r.close()

    for restart_server in (False, True):
        if restart_server:
            durable_server.restart()
        again, store2 = _engine(durable_server.url, clock, start=100)
        assert again.last_seq() == seq
        assert again.get_order(orders[0].id).state == OrderState.PICKED_UP
        assert {o.id for o in again.open_orders("c1")} == {o.id for o in orders}
        assert again.plan("c1").version == 1
        replay = again.create_order(
            OrderRequest("c1", offset(100, 0), offset(600, 0)), idempotency_key="k1"
        )
        assert replay.id == orders[1].id
        assert again.get_worker("w1").position == LatLng(p.lat, p.lng)
        store2.r.close()


def test_keys_carry_the_community_hash_tag(redis_url: str, redis_prefix: str) -> None:
    """Every per-community key has {community} so one community lives on one Cluster slot."""
    store = RedisStore(redis_url, prefix=redis_prefix)
    clock = ManualClock()
    engine = Engine(EngineSettings(), store, clock)
    engine.upsert_community(CommunitySpec("c7", "x", CENTER))
    engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c7"))
    engine.create_order(OrderRequest("c7", offset(10, 0), offset(50, 0)))
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = list(client.scan_iter(f"{redis_prefix}:*"))
    community_keys = [k for k in keys if "c7" in k.split(":")[1]]
    assert community_keys and all(k.split(":")[1] == "{c7}" for k in community_keys)
    global_keys = set(keys) - set(community_keys)
    assert all("{" not in k for k in global_keys)
    client.close()
    store.r.close()


def test_two_engines_never_assign_one_order_twice(redis_url: str, redis_prefix: str) -> None:
    """Two dispatchers on one Redis: the plan version guard lets one commit win per round."""
    clock = ManualClock()
    params = RoutingParams(use_vroom=False, isolate=False)
    stores = [RedisStore(redis_url, prefix=redis_prefix) for _ in range(2)]
    a, b = (Engine(EngineSettings(), s, clock, routing_params=params) for s in stores)
    a.upsert_community(CommunitySpec("c1", "x", CENTER, solver_budget_s=0.1))
    for i, at in enumerate(((0, 0), (50, 0))):
        a.upsert_worker(WorkerSpec(f"w{i}", WorkerKind.COURIER, "c1"))
        p = offset(*at)
        a.update_location(LocationUpdate(f"w{i}", p.lat, p.lng))
    o = a.create_order(OrderRequest("c1", offset(20, 0), offset(300, 0)))
    a.tick("c1")
    b.tick("c1")
    holders = [w for w in ("w0", "w1") if any(s.entity_id == o.id for s in b.route(w))]
    assert len(holders) == 1 and b.get_order(o.id).worker_id == holders[0]
    for s in stores:
        s.r.close()
