"""Late food at the counter: the tick's belief of when an order comes out (dispatch.tick.ready),
and the arrival stamp it counts from (cleared by dispatch.tick.apply)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

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
from dispatch.tick import TickPipeline, TickProblem, TickSnapshot, apply_plan, build_tick_problem
from dispatch.tick.ready import (
    LATE_FOOD_WAIT_S,
    believed,
    believed_ready,
    counter_run,
    late_food,
)
from solver import RoutingResult, check_routes, evaluate, solve_regret_insertion
from tests.dispatch.conftest import CENTER, offset

NOW = 1_000_000.0
SETTINGS = EngineSettings()
SERVICE = float(SETTINGS.pickup_service_s)
MATRICES = geo.HaversineMatrixProvider()
PRICE = Price(10.0, 1.0, 10.0, 1)
COUNTER = offset(0, 0)
OTHER_COUNTER = offset(0, 400)


def _courier(wid: str, at: LatLng) -> Worker:
    return Worker(wid, WorkerKind.COURIER, "c1", position=at, position_ts=NOW)


def _order(oid: str, dropoff: LatLng, ready_at: float, **fields: Any) -> Order:
    pickup = fields.pop("pickup", COUNTER)
    return Order(oid, "c1", pickup, dropoff, NOW - 900, ready_at, NOW + 900, PRICE, **fields)


def _waiting(oid: str, ready_at: float, arrived: float | None, **fields: Any) -> Order:
    """An order assigned to w1, its food due at ``ready_at``, w1 there since ``arrived``."""
    fields.setdefault("state", OrderState.ASSIGNED)
    fields.setdefault("worker_id", "w1")
    return _order(oid, offset(-1200, 0), ready_at, arrived_pickup_at=arrived, **fields)


def _pickup(o: Order) -> PlannedStop:
    return PlannedStop(StopKind.PICKUP, o.id, o.pickup, NOW - 60, NOW + 60)


def test_food_is_late_only_once_its_hand_over_is_overdue() -> None:
    """Courier there before the estimate: late once ready_at + the hand-over has passed, then
    expected out a fixed wait from now, however late it already is; before that, none."""
    early = NOW - 900
    late = late_food([_waiting("y", NOW - 300, early)], NOW, SERVICE, SERVICE)
    assert late == {"y": NOW + LATE_FOOD_WAIT_S}
    at_ready = late_food([_waiting("y", NOW - 30, early)], NOW, SERVICE, 0.0)
    assert at_ready == {"y": NOW + LATE_FOOD_WAIT_S}  # handed over the moment it is out
    assert late_food([_waiting("y", NOW - SERVICE, early)], NOW, SERVICE, SERVICE) == {}
    assert late_food([_waiting("y", NOW + 60, early)], NOW, SERVICE, 0.0) == {}


def test_a_courier_who_came_after_the_food_and_is_inside_the_hand_over_waits_on_nothing() -> None:
    """Food ready 10 min ago, the courier arrived 1 min ago and is handed food 2 min in (an
    MDRP day): it is being handed over, not late (the case the position belief got wrong);
    counted from the arrival, it is late once the hand-over is overdue."""
    fresh = _waiting("y", NOW - 600, NOW - 60)
    assert late_food([fresh], NOW, 240.0, 120.0) == {}
    overdue = _waiting("y", NOW - 600, NOW - 140)
    assert late_food([overdue], NOW, 240.0, 120.0) == {"y": NOW + LATE_FOOD_WAIT_S}


def test_no_arrival_report_no_belief() -> None:
    """Without the courier's arrival report the estimate stands, however long past."""
    assert late_food([_waiting("y", NOW - 1800, None)], NOW, SERVICE, 0.0) == {}


def test_a_run_at_one_counter_is_handed_over_one_service_after_another() -> None:
    """Two orders collected at one counter: none is late until the later one's food, a
    service for the first and the hand-over of the second have passed, even when the
    first's own hand-over is overdue."""
    a = _waiting("a", NOW - 600, NOW - 900)
    b = _waiting("b", NOW - 200, None)
    assert late_food([a, b], NOW, SERVICE, SERVICE) == {}  # due at NOW - 200 + 2 services
    b_earlier = dataclasses.replace(b, ready_at=NOW - 2 * SERVICE - 10)
    late = late_food([a, b_earlier], NOW, SERVICE, SERVICE)
    assert late == {"a": NOW + LATE_FOOD_WAIT_S, "b": NOW + LATE_FOOD_WAIT_S}


def test_the_hand_over_setting_is_checked_and_defaults_to_the_whole_service() -> None:
    """``pickup_handover_s`` lies within the pickup service; unknown, it is all of it."""
    assert EngineSettings(pickup_service_s=240).handover_s == 240
    assert EngineSettings(pickup_service_s=240, pickup_handover_s=120).handover_s == 120
    with pytest.raises(ValueError, match="pickup_handover_s"):
        EngineSettings(pickup_service_s=120, pickup_handover_s=121)


def test_the_run_is_the_routes_leading_pickups_at_one_counter() -> None:
    """Stops of work done since the plan (picked up, another courier's) are skipped; the run
    ends at a pickup elsewhere or at a drop-off."""
    done = _waiting("done", NOW - 600, NOW - 900, state=OrderState.PICKED_UP)
    moved = _waiting("moved", NOW - 600, None, worker_id="w2")
    a = _waiting("a", NOW - 600, NOW - 900)
    b = _waiting("b", NOW - 500, None)
    elsewhere = _waiting("c", NOW - 500, None, pickup=OTHER_COUNTER)
    orders = {o.id: o for o in (done, moved, a, b, elsewhere)}
    route = [_pickup(done), _pickup(moved), _pickup(a), _pickup(b), _pickup(elsewhere), _pickup(a)]
    assert [o.id for o in counter_run("w1", route, orders)] == ["a", "b"]
    drop = PlannedStop(StopKind.DROPOFF, "done", done.dropoff, NOW, NOW)
    assert counter_run("w1", [drop, _pickup(a)], orders) == []
    assert [o.id for o in counter_run("w1", [_pickup(a), drop, _pickup(b)], orders)] == ["a"]


def _snapshot(
    orders: tuple[Order, ...], routes: dict[str, tuple[PlannedStop, ...]]
) -> TickSnapshot:
    community = Community(id="c1", name="Riverside", center=CENTER)
    workers = (_courier("w1", COUNTER), _courier("w2", offset(0, 300)))
    return TickSnapshot(community, Plan("c1", 1, NOW - 60, routes), workers, orders, (), NOW)


def test_believed_replaces_only_late_food_and_leaves_the_snapshot_alone() -> None:
    """``believed`` returns the same snapshot when nothing is late (or the courier's plan no
    longer collects the order first), else a copy with the late food's believed time."""
    y = _waiting("y", NOW - 300, NOW - 900)
    snap = _snapshot((y,), {"w1": (_pickup(y),)})
    out = believed(snap, SETTINGS)
    assert out.orders[0].ready_at == NOW + LATE_FOOD_WAIT_S and snap.orders[0].ready_at == NOW - 300
    calm = dataclasses.replace(snap, orders=(_waiting("y", NOW + 60, NOW - 900),))
    assert believed(calm, SETTINGS) is calm
    drop = PlannedStop(StopKind.DROPOFF, "x", offset(900, 0), NOW, NOW)
    away = _snapshot((y,), {"w1": (drop, _pickup(y))})
    assert believed(away, SETTINGS) is away


def test_a_courier_gone_from_dispatch_says_nothing_of_the_food() -> None:
    """w1 past its shift end (an MDRP courier may not pick up after it) or with a stale
    position never collects y, so y's missing pickup is no sign of late food."""
    y = _waiting("y", NOW - 300, NOW - 900)
    snap = _snapshot((y,), {"w1": (_pickup(y),)})
    w1, w2 = snap.workers
    off = dataclasses.replace(snap, workers=(dataclasses.replace(w1, shift_end=NOW - 1), w2))
    assert believed(off, SETTINGS) is off
    silent = dataclasses.replace(w1, position_ts=NOW - SETTINGS.location_staleness_s - 1)
    stale = dataclasses.replace(snap, workers=(silent, w2))
    assert believed(stale, SETTINGS) is stale


def _apply(snap: TickSnapshot, worker_id: str, *stops: tuple[StopKind, str]) -> list[Order]:
    """Apply a hand-made plan (``stops`` on one worker, checked) and return the orders written."""
    tp = build_tick_problem(snap, SETTINGS, MATRICES)
    index = {(s.kind, s.entity_id): i for i, s in enumerate(tp.stops)}
    routes: list[list[int]] = [[] for _ in tp.workers]
    routes[next(i for i, w in enumerate(tp.workers) if w.id == worker_id)] = [
        index[s] for s in stops
    ]
    result = evaluate(tp.problem, routes, backend="test")
    assert check_routes(tp.problem, result).feasible
    return list(apply_plan(snap, tp, result, SETTINGS, solve_ms=1.0, fallback=False).orders)


def test_an_arrival_belongs_to_the_couriers_stay_at_the_counter() -> None:
    """The stamp stays while the plan keeps w1 collecting y first; giving y to w2 or sending
    w1 elsewhere first clears it, so no old or other courier's arrival ever counts."""
    y = _waiting("y", NOW + 300, NOW - 100)
    snap = _snapshot((y,), {"w1": (_pickup(y),)})
    y_stops = ((StopKind.PICKUP, "y"), (StopKind.DROPOFF, "y"))
    kept = _apply(snap, "w1", *y_stops)
    assert all(o.arrived_pickup_at == NOW - 100 for o in kept if o.id == "y")
    (moved,) = _apply(snap, "w2", *y_stops)
    assert moved.worker_id == "w2" and moved.arrived_pickup_at is None
    z = _order("z", offset(600, 0), NOW - 900, pickup=OTHER_COUNTER)
    snap_z = dataclasses.replace(snap, orders=(y, z))
    first_elsewhere = ((StopKind.PICKUP, "z"), (StopKind.DROPOFF, "z"), *y_stops)
    sent = {o.id: o for o in _apply(snap_z, "w1", *first_elsewhere)}
    assert sent["y"].worker_id == "w1" and sent["y"].arrived_pickup_at is None


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


def _seed_counter(store: MemoryStore, y: Order) -> Community:
    """w1 at the counter holding x (promised soon), planned to collect y there; w2 nearby."""
    community = Community(id="c1", name="Riverside", center=CENTER, solver_budget_s=0.5)
    store.put_community(community)
    store.put_worker(_courier("w1", COUNTER))
    store.put_worker(_courier("w2", offset(0, 300)))
    x = _order("x", offset(1200, 0), NOW - 600, state=OrderState.PICKED_UP, worker_id="w1")
    x = dataclasses.replace(x, promised_by=NOW + 500)
    store.write("c1", orders=[x, y], events=[], expect={"x": 0, "y": 0})
    route = (
        PlannedStop(StopKind.PICKUP, "y", COUNTER, NOW - 60, NOW + 60),
        PlannedStop(StopKind.DROPOFF, "x", x.dropoff, NOW + 400, NOW + 460),
        PlannedStop(StopKind.DROPOFF, "y", y.dropoff, NOW + 900, NOW + 960),
    )
    store.write(
        "c1", orders=[], events=[], plan=Plan("c1", 1, NOW - 60, {"w1": route}), expect_plan=0
    )
    return community


def _tick(y: Order) -> tuple[MemoryStore, TickProblem, RoutingResult]:
    store = MemoryStore()
    community = _seed_counter(store, y)
    policy = _Recording()
    TickPipeline(store, policy, SETTINGS, MATRICES).run(community, NOW)
    ((tick, result),) = policy.ticks
    report = check_routes(tick.problem, result)
    assert report.feasible and not report.violations
    return store, tick, result


def _y_ready(tick: TickProblem) -> int:
    i = next(i for i, s in enumerate(tick.stops) if (s.kind, s.entity_id) == (StopKind.PICKUP, "y"))
    assert tick.problem.tw_start is not None
    return int(tick.problem.tw_start[i])


def test_a_courier_with_food_on_board_stops_waiting_for_late_food() -> None:
    """w1 holds x (promised soon) at a counter where y's food is 5 min late and w1 has been
    there 10 min: the tick plans y's food a fixed wait out, sends w1 to x's door first (which clears
    the arrival), and the stored y keeps the kitchen's estimate and the expectation; the next
    tick, w1 gone from the counter, still expects y's food then (no call back to "ready
    now"); both plans pass the checker."""
    store, tick, _ = _tick(_waiting("y", NOW - 300, NOW - 600))
    assert _y_ready(tick) == LATE_FOOD_WAIT_S
    plan = store.get_plan("c1")
    assert plan is not None
    first = plan.routes["w1"][0]
    assert (first.kind, first.entity_id) == (StopKind.DROPOFF, "x")
    stored = store.get_order("y")
    assert stored is not None and stored.ready_at == NOW - 300
    assert stored.late_food_ready_at == NOW + LATE_FOOD_WAIT_S
    assert stored.worker_id != "w1" or stored.arrived_pickup_at is None
    community = store.get_community("c1")
    assert community is not None
    for w in ("w1", "w2"):
        worker = store.get_worker(w)
        assert worker is not None
        store.put_worker(dataclasses.replace(worker, position_ts=NOW + 60))
    policy = _Recording()
    TickPipeline(store, policy, SETTINGS, MATRICES).run(community, NOW + 60)
    ((again, result),) = policy.ticks
    assert check_routes(again.problem, result).feasible
    assert _y_ready(again) == LATE_FOOD_WAIT_S - 60


def test_a_kept_expectation_holds_until_it_passes() -> None:
    """Late food's expectation on the order stands with no courier at the counter, for a
    pending order too; once passed, or once the food is picked up, it is ignored."""
    kept = _order("y", offset(-1200, 0), NOW - 300, late_food_ready_at=NOW + 200)
    snap = _snapshot((kept,), {})
    assert believed_ready(snap, SETTINGS) == {"y": NOW + 200}
    passed = dataclasses.replace(kept, late_food_ready_at=NOW - 1)
    assert believed_ready(_snapshot((passed,), {}), SETTINGS) == {}
    on_board = dataclasses.replace(kept, state=OrderState.PICKED_UP, worker_id="w1")
    assert believed_ready(_snapshot((on_board,), {}), SETTINGS) == {}


def test_a_courier_just_arrived_after_the_food_is_not_held_by_a_belief() -> None:
    """Same counter, y's estimate 5 min past but w1 reported arriving only 1 min ago: inside
    the hand-over the food is planned ready now (no belief); the plan passes the checker."""
    _, tick, _ = _tick(_waiting("y", NOW - 300, NOW - 60))
    assert _y_ready(tick) == 0
