"""Dispatch policies: one registry, injected into the engine, each honoured by the tick."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import geo
from dispatch import Engine, EngineSettings, InvalidInput, ManualClock, MemoryStore
from dispatch.model import OrderState, WorkerKind
from dispatch.policies import (
    POLICIES,
    NearestIdlePolicy,
    OptimizerPolicy,
    RegretInsertionPolicy,
    make_policy,
)
from dispatch.requests import CommunitySpec, LocationUpdate, OrderRequest, WorkerSpec
from dispatch.tick import TickProblem
from solver import RoutingParams, RoutingResult, solve_regret_insertion
from tests.dispatch.conftest import CENTER, offset


def _engine(policy: object, matrices: geo.MatrixProvider | None = None) -> Engine:
    counter = itertools.count()
    e = Engine(
        EngineSettings(),
        MemoryStore(),
        ManualClock(),
        policy=policy,  # type: ignore[arg-type]
        matrix_provider=matrices,
        ids=lambda p: f"{p}{next(counter)}",
    )
    e.upsert_community(CommunitySpec("c1", "Riverside", CENTER, solver_budget_s=0.3))
    return e


def _courier(e: Engine, wid: str, at: tuple[float, float], capacity: int = 3) -> None:
    e.upsert_worker(WorkerSpec(wid, WorkerKind.COURIER, "c1", capacity=capacity))
    p = offset(*at)
    e.update_location(LocationUpdate(wid, p.lat, p.lng))


def test_registry_names_each_policy_once() -> None:
    """The registry builds each policy under its own name; an unknown name is refused."""
    assert sorted(POLICIES) == ["nearest-idle", "optimizer", "regret-insertion"]
    for name in POLICIES:
        assert make_policy(name).name == name
    params = RoutingParams(use_vroom=False, metaheuristic="greedy_descent")
    policy = make_policy("optimizer", params)
    assert isinstance(policy, OptimizerPolicy) and policy.params == params
    with pytest.raises(InvalidInput, match="nearest-idle"):
        make_policy("greedy")


class _Counting:
    """Plans by regret insertion and counts its calls."""

    name = "counting"
    orders_per_trip: int | None = None
    tick_on_arrival = False

    def __init__(self) -> None:
        self.calls = 0

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        self.calls += 1
        return solve_regret_insertion(tick.problem)


def test_the_engine_ticks_with_the_injected_policy() -> None:
    """Any object with the protocol's shape plans the tick; the engine commits its routes."""
    policy = _Counting()
    e = _engine(policy)
    _courier(e, "w1", (0, 0))
    o = e.create_order(OrderRequest("c1", offset(100, 0), offset(600, 0)))
    e.tick("c1")
    assert policy.calls == 1 and e.policy is policy
    assert e.get_order(o.id).worker_id == "w1"


def test_nearest_idle_takes_one_order_per_trip_and_counts_supply_so() -> None:
    """Nearest-idle gives each idle courier one order; surge counts only the room it uses."""
    e = _engine(NearestIdlePolicy())
    _courier(e, "w1", (0, 0))
    _courier(e, "w2", (0, 2000))
    first = e.create_order(OrderRequest("c1", offset(100, 0), offset(600, 0)))
    second = e.create_order(OrderRequest("c1", offset(120, 0), offset(650, 0)))
    e.tick("c1")
    owners = {e.get_order(first.id).worker_id, e.get_order(second.id).worker_id}
    assert owners == {"w1", "w2"}  # the near courier is busy: the far one takes the second
    _, supply = e.demand_supply("c1")
    assert sum(supply.values()) == 0.0  # both carry one order: no room under one per trip
    bundling = _engine(RegretInsertionPolicy())
    _courier(bundling, "w1", (0, 0))
    bundling.create_order(OrderRequest("c1", offset(100, 0), offset(600, 0)))
    bundling.tick("c1")
    _, supply = bundling.demand_supply("c1")
    assert sum(supply.values()) == pytest.approx(2 / 3)  # 2 of 3 orders' room left


def test_regret_insertion_bundles_where_nearest_idle_waits() -> None:
    """With one courier and two orders, regret insertion assigns both; nearest-idle one."""
    results = {}
    for policy in (RegretInsertionPolicy(), NearestIdlePolicy()):
        e = _engine(policy)
        _courier(e, "w1", (0, 0))
        for _ in range(2):
            e.create_order(OrderRequest("c1", offset(100, 0), offset(600, 0)))
        e.tick("c1")
        results[policy.name] = sum(o.state == OrderState.ASSIGNED for o in e.open_orders("c1"))
    assert results == {"regret-insertion": 2, "nearest-idle": 1}


class _SlowRoads:
    """Travel times three times the great-circle model's (distances unchanged)."""

    def __init__(self) -> None:
        self.inner = geo.HaversineMatrixProvider()

    def matrices(
        self, lats: object, lngs: object, profiles: object
    ) -> tuple[np.ndarray, np.ndarray]:
        dist, times = self.inner.matrices(lats, lngs, profiles)  # type: ignore[arg-type]
        return dist, times * 3


def test_quote_eta_uses_the_injected_travel_model() -> None:
    """The quote's ETA comes from the engine's matrix provider, not a fixed speed."""
    etas = []
    for matrices in (None, _SlowRoads()):
        e = _engine(RegretInsertionPolicy(), matrices)
        _courier(e, "w1", (-800, 0))
        etas.append(e.quote(OrderRequest("c1", offset(0, 0), offset(1500, 0))).eta_s)
    assert etas[1] == pytest.approx(3 * etas[0], rel=0.01)
    assert etas[0] > 0
