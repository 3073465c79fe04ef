"""Late food at the counter: the tick's belief of when an order comes out (dispatch.tick.ready)."""

from __future__ import annotations

import dataclasses
from typing import Any

import geo
from dispatch import EngineSettings, MemoryStore
from dispatch.model import (
    Community,
    LatLng,
    Order,
    OrderState,
    Plan,
    PlannedStop,
    Price,
    StopKind,
    Worker,
    WorkerKind,
)
from dispatch.tick import TickPipeline, TickProblem, TickSnapshot
from dispatch.tick.ready import OVERDUE_MIN_WAIT_S, believed, believed_ready
from solver import RoutingResult, check_routes, solve_regret_insertion
from tests.dispatch.conftest import CENTER, offset

NOW = 1_000_000.0
SETTINGS = EngineSettings()
MATRICES = geo.HaversineMatrixProvider()
PRICE = Price(10.0, 1.0, 10.0, 1)
COUNTER = offset(0, 0)


def _courier(wid: str, at: LatLng) -> Worker:
    return Worker(wid, WorkerKind.COURIER, "c1", position=at, position_ts=NOW)


def _order(oid: str, dropoff: LatLng, ready_at: float, **fields: Any) -> Order:
    return Order(oid, "c1", COUNTER, dropoff, NOW - 900, ready_at, NOW + 900, PRICE, **fields)


def _waiting(ready_at: float, **fields: Any) -> Order:
    """An order assigned to w1, its food due at ``ready_at``."""
    fields.setdefault("state", OrderState.ASSIGNED)
    fields.setdefault("worker_id", "w1")
    return _order("y", offset(-1200, 0), ready_at, **fields)


def test_food_late_at_the_counter_is_expected_as_late_again() -> None:
    """Courier at the counter, estimate passed: expect the food as late again, at least the
    least wait; before the estimate the kitchen's estimate stands."""
    here = _courier("w1", COUNTER)
    assert believed_ready(_waiting(NOW - 300), here, NOW) == NOW + 300
    assert believed_ready(_waiting(NOW - 30), here, NOW) == NOW + OVERDUE_MIN_WAIT_S
    assert believed_ready(_waiting(NOW + 60), here, NOW) == NOW + 60


def test_no_evidence_of_late_food_keeps_the_estimate() -> None:
    """Courier away from the counter, another courier there, or an unassigned order: the
    estimate stands; an arrival report is evidence even without a position."""
    away = _courier("w1", offset(500, 0))
    assert believed_ready(_waiting(NOW - 300), away, NOW) == NOW - 300
    assert believed_ready(_waiting(NOW - 300), _courier("w2", COUNTER), NOW) == NOW - 300
    pending = _waiting(NOW - 300, state=OrderState.PENDING, worker_id=None)
    assert believed_ready(pending, _courier("w1", COUNTER), NOW) == NOW - 300
    reported = _waiting(NOW - 300, arrived_pickup_at=NOW - 200)
    assert believed_ready(reported, dataclasses.replace(away, position=None), NOW) == NOW + 300


def test_believed_replaces_only_late_food_and_leaves_the_snapshot_alone() -> None:
    """``believed`` returns the same snapshot when nothing is late, else a copy."""
    community = Community(id="c1", name="Riverside", center=CENTER)
    y = _waiting(NOW - 300)
    snap = TickSnapshot(community, None, (_courier("w1", COUNTER),), (y,), (), NOW)
    out = believed(snap)
    assert out.orders[0].ready_at == NOW + 300 and snap.orders[0].ready_at == NOW - 300
    calm = dataclasses.replace(snap, orders=(_waiting(NOW + 60),))
    assert believed(calm) is calm


class _Recording:
    """Plans by regret insertion and keeps what it was given and what it returned."""

    name = "recording"
    orders_per_trip: int | None = None
    tick_on_arrival = False

    def __init__(self) -> None:
        self.ticks: list[tuple[TickProblem, RoutingResult]] = []

    def solve(self, tick: TickProblem, budget_s: float) -> RoutingResult:
        result = solve_regret_insertion(tick.problem, initial_routes=tick.initial_routes)
        self.ticks.append((tick, result))
        return result


def test_a_courier_with_food_on_board_stops_waiting_for_late_food() -> None:
    """w1 holds x (promised soon) at a counter whose food for y is 5 min late: the tick
    plans y's food 5 min out, sends w1 to x's door first, and the stored y keeps the
    kitchen's estimate; the plan passes the independent checker."""
    store = MemoryStore()
    community = Community(id="c1", name="Riverside", center=CENTER, solver_budget_s=0.5)
    store.put_community(community)
    store.put_worker(_courier("w1", COUNTER))
    store.put_worker(_courier("w2", offset(0, 300)))
    x = _order("x", offset(1200, 0), NOW - 600, state=OrderState.PICKED_UP, worker_id="w1")
    x = dataclasses.replace(x, promised_by=NOW + 500)
    y = _waiting(NOW - 300)
    store.write("c1", orders=[x, y], events=[], expect={"x": 0, "y": 0})
    plan = Plan(
        "c1",
        1,
        NOW - 60,
        {
            "w1": (
                PlannedStop(StopKind.PICKUP, "y", COUNTER, NOW - 60, NOW + 60),
                PlannedStop(StopKind.DROPOFF, "x", x.dropoff, NOW + 400, NOW + 460),
                PlannedStop(StopKind.DROPOFF, "y", y.dropoff, NOW + 900, NOW + 960),
            )
        },
    )
    store.write("c1", orders=[], events=[], plan=plan, expect_plan=0)
    policy = _Recording()
    TickPipeline(store, policy, SETTINGS, MATRICES).run(community, NOW)
    ((tick, result),) = policy.ticks
    pickup = next(
        i for i, s in enumerate(tick.stops) if (s.kind, s.entity_id) == (StopKind.PICKUP, "y")
    )
    assert tick.problem.tw_start is not None and int(tick.problem.tw_start[pickup]) == 300
    report = check_routes(tick.problem, result)
    assert report.feasible and not report.violations
    route = store.get_plan("c1")
    assert route is not None
    first = route.routes["w1"][0]
    assert (first.kind, first.entity_id) == (StopKind.DROPOFF, "x")
    stored = store.get_order("y")
    assert stored is not None and stored.ready_at == NOW - 300
