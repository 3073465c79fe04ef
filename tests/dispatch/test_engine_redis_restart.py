"""Restarting on Redis loses nothing acknowledged: new engines, a clean restart, a crash."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatch import Engine, EngineSettings, ManualClock
from dispatch.errors import Conflict
from dispatch.model import JobState, OrderState, WorkerKind
from dispatch.policies import OptimizerPolicy
from dispatch.requests import (
    CommunitySpec,
    JobRequest,
    LocationUpdate,
    OrderRequest,
    WorkerSpec,
)
from dispatch.store.redis import RedisStore
from solver import RoutingParams
from tests.dispatch.conftest import CENTER, offset
from tests.redis_server import RedisServer, RedisServerFailed, RedisServerMissing, find_redis_server

WORKERS = ("w1", "w2", "t1")


@pytest.fixture
def durable_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private server with the append-only file fsynced on every write."""
    try:
        server = RedisServer(find_redis_server(), tmp_path, appendonly=True).start()
    except (RedisServerMissing, RedisServerFailed) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def _engine(url: str, clock: ManualClock, first_id: int) -> tuple[Engine, RedisStore]:
    """An engine on a fresh client; ids from ``first_id`` so a new engine never reuses one."""
    store = RedisStore(url, prefix="restart")
    counter = itertools.count(first_id)
    engine = Engine(
        EngineSettings(),
        store,
        clock,
        ids=lambda p: f"{p}{next(counter)}",
        policy=OptimizerPolicy(RoutingParams(use_vroom=False, isolate=False)),
    )
    return engine, store


def _snapshot(engine: Engine, order_ids: list[str], job_ids: list[str]) -> dict[str, Any]:
    """Everything a client could have been told, read back through the engine."""
    return {
        "communities": engine.list_communities(),
        "workers": engine.list_workers("c1"),
        "orders": [engine.get_order(i) for i in order_ids],
        "jobs": [engine.get_job(i) for i in job_ids],
        "open": ([o.id for o in engine.open_orders("c1")], [j.id for j in engine.open_jobs("c1")]),
        "plan": engine.plan("c1"),
        "routes": {w: engine.route(w) for w in WORKERS},
        "events": engine.events(0, limit=10_000),
        "last_seq": engine.last_seq(),
        "rules": engine.rules().version,
    }


def _populate(engine: Engine, clock: ManualClock) -> tuple[list[str], list[str]]:
    """A community with two couriers and a technician, orders and a job in every state."""
    engine.upsert_community(CommunitySpec("c1", "Riverside", CENTER, solver_budget_s=0.2))
    engine.upsert_worker(WorkerSpec("w1", WorkerKind.COURIER, "c1"))
    engine.upsert_worker(WorkerSpec("w2", WorkerKind.COURIER, "c1"))
    engine.upsert_worker(
        WorkerSpec("t1", WorkerKind.TECHNICIAN, "c1", skills=frozenset({"repair"}))
    )
    for wid, at in zip(WORKERS, ((0, 0), (400, 0), (0, 300)), strict=True):
        p = offset(*at)
        engine.update_location(LocationUpdate(wid, p.lat, p.lng))
    orders = [
        engine.create_order(
            OrderRequest("c1", offset(100 * i, 0), offset(600, 100 * i)), idempotency_key=f"o{i}"
        )
        for i in range(4)
    ]
    job = engine.create_job(
        JobRequest("c1", offset(0, 500), frozenset({"repair"}), 30), idempotency_key="j0"
    )
    engine.tick("c1", owner="dispatcher-a")
    picked = next(o for o in engine.open_orders("c1") if o.worker_id is not None)
    engine.order_event(picked.id, "picked_up", picked.worker_id or "")
    cancelled = next(o for o in engine.open_orders("c1") if o.id != picked.id)
    engine.cancel_order(cancelled.id)
    clock.advance(30)
    engine.tick("c1", owner="dispatcher-a")
    return [o.id for o in orders], [job.id]


@pytest.mark.parametrize("restart", ["new-engine", "clean-restart", "crash"])
def test_restart_keeps_everything_acknowledged(durable_server: RedisServer, restart: str) -> None:
    """After a new engine, a clean server restart or a SIGKILL, every acknowledged write is back."""
    clock = ManualClock()
    engine, store = _engine(durable_server.url, clock, first_id=0)
    order_ids, job_ids = _populate(engine, clock)
    before = _snapshot(engine, order_ids, job_ids)
    assert before["orders"][0] is not None and before["plan"].version == 2
    assert {o.state for o in before["orders"]} >= {OrderState.PICKED_UP, OrderState.CANCELLED}
    assert before["jobs"][0].state == JobState.ASSIGNED
    store.close()

    if restart != "new-engine":
        durable_server.restart(crash=restart == "crash")
    again, store2 = _engine(durable_server.url, clock, first_id=1000)
    try:
        assert _snapshot(again, order_ids, job_ids) == before
        # idempotency keys still replay, and still refuse another body
        replay = again.create_order(
            OrderRequest("c1", offset(100, 0), offset(600, 100)), idempotency_key="o1"
        )
        assert replay == before["orders"][1]
        with pytest.raises(Conflict):
            again.create_order(OrderRequest("c1", offset(0, 0), offset(9, 9)), idempotency_key="o1")
        job_replay = again.create_job(
            JobRequest("c1", offset(0, 500), frozenset({"repair"}), 30), idempotency_key="j0"
        )
        assert job_replay.id == job_ids[0] and again.last_seq() == before["last_seq"]
        # the lease survived too: another dispatcher is still kept out
        assert again.tick("c1", owner="dispatcher-b").skipped
        # and work continues: new events keep numbering after the old ones
        fresh = again.create_order(OrderRequest("c1", offset(50, 50), offset(300, 300)))
        assert again.events(before["last_seq"])[0].entity_id == fresh.id
        assert again.events(before["last_seq"])[0].seq == before["last_seq"] + 1
    finally:
        store2.close()
