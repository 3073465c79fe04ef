"""Engines on a manual clock with deterministic ids, and a small community factory."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from dispatch import Engine, EngineSettings, ManualClock, MemoryStore
from dispatch.model import LatLng, WorkerKind
from dispatch.policies import OptimizerPolicy
from dispatch.requests import CommunitySpec, LocationUpdate, WorkerSpec
from dispatch.store.base import Store
from solver import RoutingParams
from tests.conftest import redis_store

CENTER = LatLng(31.2304, 121.4737)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Every store back-end: the same tests run on memory, a real Redis and a real Cluster."""
    if request.param == "memory":
        yield MemoryStore()
        return
    s = redis_store(request, request.param, request.getfixturevalue("redis_prefix"))
    try:
        yield s
    finally:
        s.close()


def make_engine(store: Store, clock: ManualClock, budget_s: float = 0.3) -> Engine:
    counter = itertools.count()
    return Engine(
        EngineSettings(),
        store,
        clock,
        ids=lambda prefix: f"{prefix}{next(counter)}",
        policy=OptimizerPolicy(RoutingParams(use_vroom=False, isolate=False)),
    )


@pytest.fixture
def engine(store: Store, clock: ManualClock) -> Engine:
    e = make_engine(store, clock)
    e.upsert_community(CommunitySpec("c1", "Riverside", CENTER, solver_budget_s=0.3))
    return e


def offset(lat_m: float, lng_m: float) -> LatLng:
    """A point given in metres north and east of the community centre."""
    lat = CENTER.lat + lat_m / 111_195.0
    lng = CENTER.lng + lng_m / (111_195.0 * float(np.cos(np.radians(CENTER.lat))))
    return LatLng(lat, lng)


AddWorker = Callable[..., str]


@pytest.fixture
def add_worker(engine: Engine) -> AddWorker:
    """Register a worker and give it a fresh position (metres from the centre)."""

    def add(
        worker_id: str,
        at: tuple[float, float] = (0.0, 0.0),
        kind: WorkerKind = WorkerKind.COURIER,
        **fields: object,
    ) -> str:
        engine.upsert_worker(WorkerSpec(worker_id, kind, "c1", **fields))  # type: ignore[arg-type]
        p = offset(*at)
        engine.update_location(LocationUpdate(worker_id, p.lat, p.lng))
        return worker_id

    return add
